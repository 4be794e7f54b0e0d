"""Load of one device over time: the rule the database enforces on allocations, as a pure function.

A device's capacity is :data:`DEVICE_MILLI` (1000 milli = one whole device); allocations are
half-open windows ``[start, end)`` (``end`` ``None``: open-ended) holding ``milli`` of it. The
load at an instant is the sum of the milli of the windows that contain it; a zero-length window
``[t, t)`` contains no instant and loads nothing. The store refuses an allocation that would make
the load exceed the capacity at any instant (see :mod:`suanli.store.capacity`); benchmarks and
tests measure what was recorded with :func:`max_load`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime

DEVICE_MILLI = 1000
"""Capacity of one device, in milli (fractions of allocations sum against it)."""


def max_load(windows: Iterable[tuple[datetime, datetime | None, int]]) -> int:
    """The highest load (summed milli) over time of ``(start, end, milli)`` windows of one device."""
    points: list[tuple[datetime, int, int]] = []
    for start, end, milli in windows:
        if end is not None and end <= start:
            continue
        points.append((start, 1, milli))
        if end is not None:
            points.append((end, 0, -milli))  # at the same instant, an end (0) sorts before a start (1)
    load = best = 0
    for _at, _kind, delta in sorted(points):
        load += delta
        best = max(best, load)
    return best


def max_load_per_device(rows: Iterable[tuple[Hashable, datetime, datetime | None, int]]) -> dict[Hashable, int]:
    """:func:`max_load` of each device, from ``(device, start, end, milli)`` rows."""
    by: dict[Hashable, list[tuple[datetime, datetime | None, int]]] = {}
    for device, start, end, milli in rows:
        by.setdefault(device, []).append((start, end, milli))
    return {d: max_load(w) for d, w in by.items()}

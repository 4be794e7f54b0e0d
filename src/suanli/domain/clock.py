"""Time comes from an injected clock; never from ``datetime.now()`` in the core.

All instants are timezone-aware UTC ``datetime``s truncated to whole seconds (leases are metered
per second).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC, truncated to the second."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""Every instant a client sends lies in [EARLIEST, LATEST) (docs/api.md "Input rules"): far from
``datetime.min``/``max``, so no time zone shift or added term can overflow."""


def utc(dt: datetime) -> datetime:
    """Normalise to aware UTC, whole seconds. Naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0)

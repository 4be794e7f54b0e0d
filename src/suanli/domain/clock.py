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


def utc(dt: datetime) -> datetime:
    """Normalise to aware UTC, whole seconds. Naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0)

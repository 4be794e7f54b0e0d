"""Time comes from an injected clock; never from ``datetime.now()`` in the core.

All instants are timezone-aware UTC ``datetime``s truncated to whole seconds (leases are metered
per second).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from suanli.errors import ValidationError


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


def parse_instant(value: datetime | str | None, field: str, *, need_zone: bool = False) -> datetime | None:
    """An instant a client sent (query string or body), as aware UTC in whole seconds; ``None`` when not given.

    A ``datetime`` or an ISO-8601 string: a date (midnight UTC) or a date-time (no zone: UTC); with
    ``need_zone`` a string must carry its time zone. It must lie in [:data:`EARLIEST`, :data:`LATEST`); the
    range is checked without shifting zones first, so no input can overflow (``0001-01-01T00:00+00:06``
    is a 422, not a 500). The one parser of the API's instants: the message names ``field``."""
    if value is None or value == "":
        return None
    rule = ("allowed: an ISO-8601 date-time with a time zone, e.g. 2026-12-01T00:00:00Z" if need_zone else
            "allowed: ISO-8601 such as 2026-12-01 or 2026-12-01T08:00:00+08:00") + \
        f", from {EARLIEST.date()} to {LATEST.date()}"
    if isinstance(value, str):
        text = value.strip()
        try:
            d = datetime.fromisoformat(text) if len(text) <= 64 else None
        except ValueError:
            d = None
        if d is None:
            what = "a date-time" if need_zone else "a date or date-time"
            raise ValidationError(f"{field} {text[:40]!r} is not {what}; {rule}", field=field)
        if need_zone and (d.tzinfo is None or d.utcoffset() is None):
            raise ValidationError(f"{field} {text[:40]!r} has no time zone; {rule}", field=field)
    else:
        d = value
    if d.tzinfo is None or d.utcoffset() is None:
        d = d.replace(tzinfo=UTC)
    if not EARLIEST.year <= d.year < LATEST.year:  # the local year first: shifting 0001-01-01 to UTC overflows
        raise ValidationError(f"{field} {d.isoformat()} is out of range; {rule}", field=field)
    out = d.astimezone(UTC).replace(microsecond=0)
    if not EARLIEST <= out < LATEST:
        raise ValidationError(f"{field} {d.isoformat()} is out of range; {rule}", field=field)
    return out

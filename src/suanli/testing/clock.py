"""A clock that tests move by hand (satisfies :class:`suanli.domain.clock.Clock`).

::

    clock = FakeClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    platform = Platform(settings, clock=clock)
    ...
    clock.advance(90)          # 90 seconds pass, instantly

Instants are aware UTC, whole seconds, like :class:`~suanli.domain.clock.SystemClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start.astimezone(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        """Move time forward (``seconds`` plus any ``timedelta`` keywords); return the new now."""
        step = timedelta(seconds=seconds, **kw)
        if step < timedelta(0):
            raise ValueError("a clock never goes back")
        self._now = (self._now + step).replace(microsecond=0)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (not earlier than now)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < self._now:
            raise ValueError("a clock never goes back")
        self._now = when.astimezone(UTC).replace(microsecond=0)

"""The agent's clock: this machine's, corrected to the server's.

Lease windows come from the server (its clock); an edge node's clock may be off by seconds or
more. The agent's engine enforces windows and stamps job starts and ends on :class:`ServerClock`:
local UTC plus the offset measured from each answer's ``server_time`` (half the round trip added).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ServerClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return (datetime.now(UTC) + self.offset).replace(microsecond=0)

    def observe(self, server_time: datetime, rtt_ms: float | None, local: datetime | None = None) -> None:
        """An answer stamped ``server_time`` arrived now (``local``): the server's clock is ahead by this."""
        local = local or datetime.now(UTC)
        lag = timedelta(milliseconds=(rtt_ms or 0.0) / 2)
        self.offset = server_time + lag - local

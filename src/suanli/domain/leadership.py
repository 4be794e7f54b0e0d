"""Leadership of the background work among server replicas: a lease on a named row.

One row per kind of work (``background``: the reconcilers of :mod:`suanli.service.reconcile`).
A replica **leads** while it is the row's ``holder`` and ``expires_at`` is in the future; it renews
the lease on every pass and in every transaction of its work. Another replica may **take over**
only once the lease has expired (or was released); every takeover increments ``epoch``, the
fencing token: a write of the background work carries the epoch it was started under and is refused
when the row's epoch is no longer that (:mod:`suanli.service.fencing`), so a replica that lost
the lease (paused, partitioned, slow) can never write after its successor began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

BACKGROUND = "background"
"""The leadership of the reconcilers' pass (lease time, transfers, runway, engine, usage, health)."""


@dataclass(frozen=True)
class Leader:
    name: str
    holder: str | None
    """Replica id of the holder (``None``: never held, or released)."""
    epoch: int
    """Fencing token: incremented on every takeover, never reused."""
    since: datetime | None
    """When the holder took it over."""
    expires_at: datetime | None
    """The lease lapses here unless renewed; a released lease has ``expires_at`` = the release."""

    def held(self, now: datetime) -> bool:
        return self.holder is not None and self.expires_at is not None and self.expires_at > now

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {"name": self.name, "holder": self.holder if self.held(now) else None, "epoch": self.epoch,
                "since": self.since.isoformat() if self.since else None,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None}

"""Fencing: every transaction of the background work carries its leader's epoch.

The background runner (:mod:`suanli.service.leadership`) runs the reconcilers inside
:func:`fenced`; while it is active, :meth:`Platform.tx <suanli.service.platform.Platform.tx>` opens
every transaction with :func:`check`: a conditional ``UPDATE`` of the leadership row that must
match the runner's (holder, epoch) and renews the lease. If another replica has taken over since
(the epoch moved on), :class:`~suanli.errors.FencedError` is raised before the transaction writes
anything and the transaction rolls back; so every write of a reconciler (lease tick, transfers,
runway, engine mirror, usage, node health) is guarded by the one mechanism, whatever its call site.
On PostgreSQL the row stays locked until the transaction commits, so a takeover cannot slip in
between the check and the commit.

The fence is a context variable: it follows the runner into ``asyncio.to_thread`` and is not seen
by request handlers running at the same time in other threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from suanli.errors import FencedError
from suanli.store import leadership as store


@dataclass(frozen=True)
class Fence:
    name: str
    holder: str
    epoch: int
    ttl: timedelta


_FENCE: ContextVar[Fence | None] = ContextVar("suanli_fence", default=None)


@contextmanager
def fenced(fence: Fence) -> Iterator[None]:
    """Every ``Platform.tx`` inside this block is refused once ``fence`` is stale."""
    token = _FENCE.set(fence)
    try:
        yield
    finally:
        _FENCE.reset(token)


def current() -> Fence | None:
    return _FENCE.get()


def check(s: Session, now: datetime) -> None:
    """At the start of a transaction: nothing outside :func:`fenced`; inside, renew the lease under
    the fence's epoch or raise :class:`FencedError` (the transaction rolls back)."""
    fence = _FENCE.get()
    if fence is None:
        return
    if not store.renew(s, fence.name, fence.holder, fence.epoch, now, fence.ttl):
        held = store.get(s, fence.name)
        raise FencedError(f"replica {fence.holder} no longer leads {fence.name!r} (its epoch {fence.epoch}; now epoch "
                          f"{held.epoch}, held by {held.holder}); its write was refused and rolled back",
                          name=fence.name, epoch=fence.epoch, current_epoch=held.epoch)

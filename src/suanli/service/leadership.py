"""This server process's candidacy for the background work, among replicas on one database.

Each process (``suanli serve``) has one :class:`Replica` per platform, with a random id printed at
start and shown by ``GET /health``. Every ``background_interval_seconds`` the server calls
:meth:`Replica.run`: the replica renews its lease on the ``leadership`` row, or takes it over if
nobody holds it (the epoch goes up), and only then runs the work, inside
:func:`suanli.service.fencing.fenced` so that each of its transactions is refused once another
replica has taken over. A replica that does not lead does nothing but try again next interval; a
leader that dies is replaced within ``leader_ttl_seconds + background_interval_seconds``; one that
stops cleanly releases its lease and is replaced at the next interval of another replica.

On SQLite one process owns the file, so its replica simply always leads; the code path is the same.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from suanli.domain.leadership import BACKGROUND, Leader
from suanli.errors import FencedError, ValidationError
from suanli.service import audit_context
from suanli.service.fencing import Fence, fenced
from suanli.service.platform import Platform
from suanli.store import leadership as store

log = logging.getLogger("suanli.leadership")
T = TypeVar("T")


def check_timing(interval_s: float, ttl_s: float) -> None:
    """The lease must outlive the interval between renewals, or leadership would lapse between passes."""
    if ttl_s <= interval_s:
        raise ValidationError(f"SUANLI_LEADER_TTL_SECONDS ({ttl_s:g}) must be longer than "
                              f"SUANLI_BACKGROUND_INTERVAL_SECONDS ({interval_s:g}); twice as long or more is "
                              "advised", field="leader_ttl_seconds")


class Replica:
    """One process's candidacy for a named leadership (default :data:`BACKGROUND`)."""

    def __init__(self, p: Platform, name: str = BACKGROUND, *, replica_id: str | None = None) -> None:
        check_timing(p.settings.background_interval_seconds, p.settings.leader_ttl_seconds)
        self.p = p
        self.name = name
        self.id = replica_id or "r-" + secrets.token_hex(4)
        self.ttl = timedelta(seconds=p.settings.leader_ttl_seconds)
        self._epoch: int | None = None
        self._view: Leader | None = None
        self._checked_at: datetime | None = None
        self._run_lock = threading.Lock()  # one run at a time in this process (the loop, POST reconcile)
        self._state_lock = threading.Lock()
        self._conn_lock = threading.Lock()  # the PostgreSQL leadership connection: one user at a time
        self._lock_engine: Engine | None = None
        self._conn: Connection | None = None
        self._locks: set[int] = set()  # epochs whose advisory lock self._conn holds

    def lead(self) -> int | None:
        """Renew the lease, or take it over if nobody holds it (on PostgreSQL also if its holder's
        session is gone: :func:`suanli.store.leadership.try_epoch_lock`). The epoch this replica now
        leads under, or ``None`` if another replica holds the lease."""
        now = self.p.clock.now()
        if self.p.dialect == "postgresql":
            with self._conn_lock:
                mine, view = self._lead_pg(now)
        else:
            with audit_context.system(), self.p.tx() as s:
                mine = self._epoch
                if mine is not None and not store.renew(s, self.name, self.id, mine, now, self.ttl):
                    mine = None
                if mine is None:
                    taken = store.take_over(s, self.name, self.id, now, self.ttl)
                    mine = taken.epoch if taken is not None else None
                view = store.get(s, self.name)
        self._note(mine, view, now)
        return mine

    def _lead_pg(self, now: datetime) -> tuple[int | None, Leader]:
        """:meth:`lead` on this replica's own connection, which holds the advisory lock of the epoch
        it leads from before its takeover commits. A lease that has not expired is taken over only
        when its epoch's lock can be taken, i.e. its holder's session has ended."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._lock_engine = self._lock_engine or store.lock_engine(self.p.engine)
            self._conn, self._locks = self._lock_engine.connect(), set()
        conn = self._conn
        try:
            with conn.begin():
                s = Session(bind=conn)
                mine = self._epoch
                if mine is not None and not store.renew(s, self.name, self.id, mine, now, self.ttl):
                    mine = None
                if mine is not None and mine not in self._locks and store.try_epoch_lock(conn, mine):
                    self._locks.add(mine)  # a new connection: hold the lock of our epoch again
                if mine is None:
                    seen = store.get(s, self.name)
                    taken = None
                    if not seen.held(now):
                        taken = store.take_over(s, self.name, self.id, now, self.ttl)
                    elif (seen.holder != self.id and seen.epoch not in self._locks
                          and store.try_epoch_lock(conn, seen.epoch)):
                        self._locks.add(seen.epoch)  # its holder's session is gone: no need to wait for the TTL
                        taken = store.take_over_from(s, self.name, self.id, seen.epoch, now, self.ttl)
                    if taken is not None:
                        if store.try_epoch_lock(conn, taken.epoch):  # before the commit: nobody sees it unlocked
                            self._locks.add(taken.epoch)
                        mine = taken.epoch
                view = store.get(s, self.name)
                s.close()
            for stale in self._locks - {mine}:
                store.epoch_unlock(conn, stale)
            self._locks &= {mine} if mine is not None else set()
            if conn.in_transaction():
                conn.commit()
        except Exception:
            self._drop_connection()  # its locks go with it
            raise
        return mine, view

    def _drop_connection(self) -> None:
        conn, self._conn, self._locks = self._conn, None, set()
        if conn is not None:
            try:
                conn.invalidate()  # not back to any pool: the session ends, its advisory locks are freed
                conn.close()
            except Exception:
                log.exception("closing the leadership connection")

    def _note(self, epoch: int | None, view: Leader | None, now: datetime) -> None:
        with self._state_lock:
            before = self._epoch
            self._epoch, self._view, self._checked_at = epoch, view, now
        if epoch is not None and epoch != before:
            log.warning("replica %s leads %s (epoch %d)", self.id, self.name, epoch)
        elif epoch is None and before is not None:
            holder = view.holder if view is not None else None
            log.warning("replica %s no longer leads %s (epoch %d); held by %s", self.id, self.name, before, holder)

    def run(self, work: Callable[[], T]) -> T | None:
        """Run ``work`` if this replica leads (renewing or taking over first), fenced by its epoch;
        ``None`` if another replica leads. A :class:`FencedError` (taken over mid-way) propagates
        after this replica has stepped down."""
        with self._run_lock:
            epoch = self.lead()
            if epoch is None:
                return None
            try:
                with fenced(Fence(self.name, self.id, epoch, self.ttl)):
                    return work()
            except FencedError:
                now = self.p.clock.now()
                with self.p.tx() as s:
                    view = store.get(s, self.name)
                self._note(None, view, now)
                raise

    def release(self) -> bool:
        """Give the lease up (a clean shutdown), so that another replica takes over at its next interval."""
        with self._state_lock:
            epoch, self._epoch = self._epoch, None
        if epoch is None:
            return False
        try:
            with audit_context.system(), self.p.tx() as s:
                done = store.release(s, self.name, self.id, epoch, self.p.clock.now())
        finally:
            with self._conn_lock:
                self._drop_connection()
        if done:
            log.warning("replica %s released %s (epoch %d)", self.id, self.name, epoch)
        return done

    def status(self) -> dict[str, Any]:
        """What this replica knows as of its last attempt (no database read): its id, whether it leads,
        and the lease row as it saw it."""
        now = self.p.clock.now()
        with self._state_lock:
            epoch, view, checked = self._epoch, self._view, self._checked_at
        leading = epoch is not None and view is not None and view.holder == self.id and view.held(now)
        return {"replica": self.id, "leading": leading, "leader": view.to_dict(now) if view is not None else None,
                "checked_at": checked.isoformat() if checked is not None else None,
                "interval_seconds": self.p.settings.background_interval_seconds,
                "ttl_seconds": self.p.settings.leader_ttl_seconds}


def replica(p: Platform) -> Replica:
    """The one :class:`Replica` of this platform (made on first use)."""
    return p.attached(Replica)


def current(p: Platform) -> Leader:
    """The lease row as the database holds it now."""
    with p.tx() as s:
        return store.get(s, BACKGROUND)

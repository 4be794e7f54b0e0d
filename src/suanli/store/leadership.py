"""The ``leadership`` table: one lease row per kind of background work (:mod:`suanli.domain.leadership`).

Every change is one conditional ``UPDATE`` that must match the row, so the database decides who
leads: two replicas taking over at once cannot both match an expired lease (the second re-reads the
row its competitor committed and finds it held), and a renewal by a replica that lost the lease
matches nothing. On PostgreSQL the ``UPDATE`` also locks the row until the transaction ends: a
takeover waits for the fenced transaction in flight and then sees the renewed lease.

PostgreSQL also has a faster way to see a dead leader than waiting for its lease to expire: the
leader of epoch E holds the session advisory lock (:data:`EPOCH_LOCK_CLASS`, E) on a connection of
its own (:func:`try_epoch_lock`), which the server frees when that connection ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Connection, Engine, String, create_engine, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from suanli.domain.leadership import Leader
from suanli.store.tables import Base
from suanli.store.types import UTCDateTime


class LeadershipRow(Base):
    __tablename__ = "leadership"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))


def _leader(row: LeadershipRow) -> Leader:
    return Leader(name=row.name, holder=row.holder, epoch=row.epoch, since=row.since, expires_at=row.expires_at)


def get(s: Session, name: str) -> Leader:
    """The lease row (one that was never written reads as epoch 0, no holder)."""
    row = s.scalar(select(LeadershipRow).where(LeadershipRow.name == name))
    if row is None:
        return Leader(name=name, holder=None, epoch=0, since=None, expires_at=None)
    s.expunge(row)  # a snapshot: the conditional UPDATEs below are the only writes
    return _leader(row)


def _ensure(s: Session, name: str) -> None:
    """The row exists (the migration makes ``background``; another name is made on first use)."""
    if s.scalar(select(LeadershipRow.name).where(LeadershipRow.name == name)) is None:
        s.add(LeadershipRow(name=name, holder=None, epoch=0))
        s.flush()


def renew(s: Session, name: str, holder: str, epoch: int, now: datetime, ttl: timedelta) -> bool:
    """Extend the lease of ``holder`` under ``epoch`` to ``now + ttl``; ``False`` if it is not theirs
    any more (taken over: the epoch moved on). On PostgreSQL the row stays locked until commit."""
    done = s.execute(update(LeadershipRow).where(LeadershipRow.name == name, LeadershipRow.holder == holder,
                                                 LeadershipRow.epoch == epoch)
                     .values(expires_at=now + ttl).execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def take_over(s: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> Leader | None:
    """Become the holder if nobody holds the lease now (never held, released or expired): the epoch
    goes up by one. ``None`` if another replica holds it."""
    _ensure(s, name)
    done = s.execute(update(LeadershipRow).where(
        LeadershipRow.name == name,
        LeadershipRow.holder.is_(None) | LeadershipRow.expires_at.is_(None) | (LeadershipRow.expires_at <= now))
        .values(holder=holder, epoch=LeadershipRow.epoch + 1, since=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return get(s, name)


def take_over_from(s: Session, name: str, holder: str, epoch: int, now: datetime, ttl: timedelta) -> Leader | None:
    """Become the holder in place of the holder of ``epoch``, whose lease may not have expired: for a
    replica that has proved that holder gone (:func:`try_epoch_lock`). ``None`` if the epoch moved on."""
    done = s.execute(update(LeadershipRow).where(LeadershipRow.name == name, LeadershipRow.epoch == epoch)
                     .values(holder=holder, epoch=LeadershipRow.epoch + 1, since=now, expires_at=now + ttl)
                     .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return get(s, name)


EPOCH_LOCK_CLASS = 0x73756C  # "sul": the advisory lock class of leadership epochs


def try_epoch_lock(conn: Connection, epoch: int) -> bool:
    """PostgreSQL: take the session advisory lock of ``epoch`` on this connection if nobody holds it.
    A leader holds its epoch's lock on its own connection from before its takeover commits; the
    server frees it the moment that connection ends (the process killed, its host's TCP gone), so a
    lock that can be taken proves the holder of that epoch is gone."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:c, :e)"),
                             {"c": EPOCH_LOCK_CLASS, "e": epoch & 0x7FFFFFFF}).scalar_one())


def epoch_unlock(conn: Connection, epoch: int) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:c, :e)"), {"c": EPOCH_LOCK_CLASS, "e": epoch & 0x7FFFFFFF})


def lock_engine(engine: Engine) -> Engine:
    """An engine without a pool for a replica's own leadership connection: closing it really ends the
    session, so its advisory locks never linger in a pooled connection."""
    return create_engine(engine.url, poolclass=NullPool)


def release(s: Session, name: str, holder: str, epoch: int, now: datetime) -> bool:
    """Give the lease up at ``now`` (a replica shutting down): another may take over at once, and the
    holder's own work still in flight can no longer renew it (its fence matches no row)."""
    done = s.execute(update(LeadershipRow).where(LeadershipRow.name == name, LeadershipRow.holder == holder,
                                                 LeadershipRow.epoch == epoch)
                     .values(holder=None, expires_at=now).execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]

"""The placement lock: one placer of capacity at a time across every server process.

PostgreSQL: a transaction-scoped advisory lock on a fixed key (:data:`PLACEMENT_LOCK`), held until
the transaction ends; a second replica's placement loop (or a lease extension) queues behind it
instead of racing for the same devices. SQLite: every write transaction is ``BEGIN IMMEDIATE``
already, so writers never overlap and there is nothing to take.

Take it first in the transaction, before any row lock, so that the lock order is always
placement lock -> member row (spend limits) -> device rows.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from suanli.store import capacity

PLACEMENT_LOCK = 0x5355414E4C4901
"""The advisory lock key ("SUANLI" 01); distinct from the price book's (store.price_corrections)."""


def lock_placement(s: Session) -> None:
    if s.get_bind().dialect.name != "postgresql":
        return
    s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLACEMENT_LOCK})


def is_lost_race(error: BaseException) -> bool:
    """A database error that a retry on fresh state resolves: PostgreSQL broke a lock cycle between
    two grants (SQLSTATE 40P01), or the capacity rule refused a claim (:mod:`suanli.store.capacity`)."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) == "40P01" or capacity.is_over_capacity(error)

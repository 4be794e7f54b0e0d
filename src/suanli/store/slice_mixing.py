"""The database refuses slices of different mechanism classes on one device at one time (migration 0035;
the rule: :mod:`suanli.domain.slice_mixing`, docs/slices.md "Mixing mechanisms on one device").

A slice lease's class is the part of its ``slice_grants.enforcement`` before the first ``:`` (``mig``,
``mps``, ``hami``, ``vnpu``, ``none``). Two checks, both refusing when another lease's allocation of the
same device, with a grant of another class, overlaps in time (``[start_at, end_at)``; zero-length
allocations, given up in the second they were granted, do not count; allocations drawn on a reservation
do, as the slice still runs on the device):

- on ``slice_grants`` (INSERT, or UPDATE of ``enforcement``/``lease_id``): against every allocation the
  lease already holds (the order path writes the allocations, then the grant);
- on ``allocations`` (INSERT, or an UPDATE that moves or widens the row; ending a row is never checked)
  of a lease that has a grant: a slice re-placed after a failure, or moved.

SQLite: ``BEFORE`` triggers with ``RAISE(ABORT)`` (writers run one at a time). PostgreSQL: plpgsql
trigger functions that first lock the device rows (``FOR UPDATE``, as the capacity trigger does), so two
grants on one device queue and the second sees the first. The message contains
:data:`suanli.store.capacity.OVER_CAPACITY`: the store turns it into ``StaleClaim`` (placed again on
fresh state), never a 500. Slices written before the migration are not re-checked.

SQLite drops a table's triggers when ``batch_alter_table`` copies it: a later migration that alters
``allocations`` or ``slice_grants`` must call :func:`install` again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from suanli.store.capacity import OVER_CAPACITY, is_over_capacity
from suanli.store.leases import StaleClaim
from suanli.store.slices_tables import SliceGrantRow
from suanli.store.tables import AllocationRow

MIXED = f"{OVER_CAPACITY}: slices of different mechanisms may not share a device"


def _cls(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"split_part({column}, ':', 1)"
    return f"substr({column}, 1, instr({column} || ':', ':') - 1)"


def _grant_sql(dialect: str) -> str:
    """A row when the new grant's lease holds an allocation overlapping another class's on its device."""
    return f"""
    SELECT 1 FROM allocations me
      JOIN allocations o ON o.device_id = me.device_id AND o.lease_id <> me.lease_id
      JOIN slice_grants g ON g.lease_id = o.lease_id
     WHERE me.lease_id = NEW.lease_id
       AND (me.end_at IS NULL OR me.end_at > me.start_at) AND (o.end_at IS NULL OR o.end_at > o.start_at)
       AND (o.end_at IS NULL OR o.end_at > me.start_at) AND (me.end_at IS NULL OR me.end_at > o.start_at)
       AND {_cls(dialect, 'g.enforcement')} <> {_cls(dialect, 'NEW.enforcement')}"""


def _allocation_sql(dialect: str) -> str:
    """A row when the new allocation (of a slice lease) overlaps another class's on its device."""
    return f"""
    SELECT 1 FROM slice_grants mine
      JOIN allocations o ON o.device_id = NEW.device_id AND o.lease_id <> NEW.lease_id
      JOIN slice_grants g ON g.lease_id = o.lease_id
     WHERE mine.lease_id = NEW.lease_id
       AND (NEW.end_at IS NULL OR NEW.end_at > NEW.start_at) AND (o.end_at IS NULL OR o.end_at > o.start_at)
       AND (o.end_at IS NULL OR o.end_at > NEW.start_at) AND (NEW.end_at IS NULL OR NEW.end_at > o.start_at)
       AND {_cls(dialect, 'g.enforcement')} <> {_cls(dialect, 'mine.enforcement')}"""


ENDS = ("NEW.device_id = OLD.device_id AND NEW.lease_id = OLD.lease_id AND NEW.start_at >= OLD.start_at "
        "AND NEW.end_at IS NOT NULL AND (OLD.end_at IS NULL OR NEW.end_at <= OLD.end_at)")
"""An UPDATE of an allocation to a window inside its old one on the same device: never adds a neighbour."""

_SQLITE = (
    ("tr_slice_grants_mixing_insert", "INSERT ON slice_grants", "", _grant_sql),
    ("tr_slice_grants_mixing_update", "UPDATE OF enforcement, lease_id ON slice_grants", "", _grant_sql),
    ("tr_allocations_mixing_insert", "INSERT ON allocations", "", _allocation_sql),
    ("tr_allocations_mixing_update", "UPDATE OF device_id, lease_id, start_at, end_at ON allocations",
     f"WHEN NOT ({ENDS})", _allocation_sql),
)


def install(conn: Connection) -> None:
    """Create the triggers on ``conn``'s dialect (idempotent)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"""
CREATE OR REPLACE FUNCTION slice_grants_one_mechanism() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM devices WHERE id IN (SELECT device_id FROM allocations WHERE lease_id = NEW.lease_id)
      ORDER BY id FOR UPDATE;
    IF EXISTS ({_grant_sql('postgresql')}) THEN
        RAISE EXCEPTION USING ERRCODE = 'exclusion_violation',
            MESSAGE = '{MIXED}: lease ' || NEW.lease_id || ' (' || NEW.enforcement || ')';
    END IF;
    RETURN NEW;
END $$"""))
        conn.execute(text(f"""
CREATE OR REPLACE FUNCTION allocations_one_mechanism() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND {ENDS} THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM slice_grants WHERE lease_id = NEW.lease_id) THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM devices WHERE id = NEW.device_id FOR UPDATE;
    IF EXISTS ({_allocation_sql('postgresql')}) THEN
        RAISE EXCEPTION USING ERRCODE = 'exclusion_violation',
            MESSAGE = '{MIXED}: device ' || NEW.device_id || ', lease ' || NEW.lease_id;
    END IF;
    RETURN NEW;
END $$"""))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_slice_grants_mixing ON slice_grants"))
        conn.execute(text("CREATE TRIGGER tr_slice_grants_mixing BEFORE INSERT OR UPDATE OF enforcement, lease_id "
                          "ON slice_grants FOR EACH ROW EXECUTE FUNCTION slice_grants_one_mechanism()"))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_allocations_mixing ON allocations"))
        conn.execute(text("CREATE TRIGGER tr_allocations_mixing BEFORE INSERT OR UPDATE OF device_id, lease_id, "
                          "start_at, end_at ON allocations FOR EACH ROW EXECUTE FUNCTION allocations_one_mechanism()"))
        return
    for name, event, when, sql in _SQLITE:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text(f"CREATE TRIGGER {name} BEFORE {event} {when} BEGIN "
                          f"SELECT RAISE(ABORT, '{MIXED}') WHERE EXISTS ({sql('sqlite')}); END"))


def uninstall(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER IF EXISTS tr_slice_grants_mixing ON slice_grants"))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_allocations_mixing ON allocations"))
        conn.execute(text("DROP FUNCTION IF EXISTS slice_grants_one_mechanism()"))
        conn.execute(text("DROP FUNCTION IF EXISTS allocations_one_mechanism()"))
        return
    for name, *_ in _SQLITE:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def busy_enforcements(s: Session, start: datetime, end: datetime | None,
                      exclude_lease: str | None = None) -> Mapping[int, set[str]]:
    """Device id -> the enforcement labels of the slices whose allocations overlap ``[start, end)``: the
    windows the triggers above look at (not the lease's state), so placement never proposes what they refuse."""
    overlap = and_(or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > start),
                   or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > AllocationRow.start_at))
    if end is not None:
        overlap = and_(overlap, AllocationRow.start_at < end)
    q = (select(AllocationRow.device_id, SliceGrantRow.enforcement)
         .join(SliceGrantRow, SliceGrantRow.lease_id == AllocationRow.lease_id).where(overlap))
    if exclude_lease is not None:
        q = q.where(AllocationRow.lease_id != exclude_lease)
    out: dict[int, set[str]] = {}
    for device_id, enforcement in s.execute(q):
        out.setdefault(device_id, set()).add(enforcement)
    return out


def relabel_grant(s: Session, lease_id: str, enforcement: str, share_pct: int, memory_mib: int) -> None:
    """A slice re-placed under another mechanism than its grant's: the grant says the new one (the trigger
    checks it against the lease's allocations; a refusal is a capacity race, ``StaleClaim``)."""
    try:
        s.execute(update(SliceGrantRow).where(SliceGrantRow.lease_id == lease_id)
                  .values(enforcement=enforcement, share_pct=share_pct, memory_mib=memory_mib))
    except (IntegrityError, OperationalError) as e:
        if is_over_capacity(e) or getattr(e.orig, "sqlstate", None) == "40P01":
            raise StaleClaim(str(e.orig)) from None
        raise

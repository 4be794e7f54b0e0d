"""Enforced slices in the database (tables of :mod:`suanli.store.slices_tables`, migration 0030).

The MIG layout rule: two instances of one device may not share a memory slice while both of their
allocations hold it. :func:`install` creates the check: a ``BEFORE INSERT`` trigger on ``mig_instances``
(SQLite: ``RAISE(ABORT)``; PostgreSQL: a plpgsql function that first locks the device row, as the
capacity trigger does, so concurrent grants of one device queue). Its message contains
:data:`suanli.store.capacity.OVER_CAPACITY`, so the store treats a refusal as a capacity race (retry on
fresh state), never a 500. Zero-length allocations (given up in the second they were granted) and
allocations drawn on a reservation do not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, insert, or_, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from suanli.domain.leases import LeaseState
from suanli.store.capacity import OVER_CAPACITY, is_over_capacity
from suanli.store.leases import StaleClaim
from suanli.store.slices_tables import MigInstanceRow, SliceGrantRow
from suanli.store.tables import AllocationRow, LeaseRow

MIG_OVERLAP = f"{OVER_CAPACITY}: MIG instance overlaps another instance of the device"

_OVERLAP_SQL = """
    SELECT 1 FROM mig_instances m
      JOIN allocations a ON a.id = m.allocation_id
      JOIN allocations me ON me.id = NEW.allocation_id
     WHERE m.device_id = NEW.device_id AND m.allocation_id <> NEW.allocation_id
       AND m.start_slot < NEW.start_slot + NEW.span AND NEW.start_slot < m.start_slot + m.span
       AND a.drawn_from IS NULL AND (a.end_at IS NULL OR a.end_at > a.start_at)
       AND (me.end_at IS NULL OR me.end_at > me.start_at)
       AND (a.end_at IS NULL OR a.end_at > me.start_at) AND (me.end_at IS NULL OR me.end_at > a.start_at)
"""


def install(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"""
CREATE OR REPLACE FUNCTION mig_instances_disjoint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM devices WHERE id = NEW.device_id FOR UPDATE;
    IF EXISTS ({_OVERLAP_SQL}) THEN
        RAISE EXCEPTION USING ERRCODE = 'exclusion_violation',
            MESSAGE = '{MIG_OVERLAP} ' || NEW.device_id || ' at memory slice ' || NEW.start_slot;
    END IF;
    RETURN NEW;
END $$"""))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_mig_instances_disjoint ON mig_instances"))
        conn.execute(text("CREATE TRIGGER tr_mig_instances_disjoint BEFORE INSERT OR UPDATE ON mig_instances "
                          "FOR EACH ROW EXECUTE FUNCTION mig_instances_disjoint()"))
        return
    for name, event in (("tr_mig_instances_insert", "INSERT"), ("tr_mig_instances_update", "UPDATE")):
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text(f"CREATE TRIGGER {name} BEFORE {event} ON mig_instances BEGIN "
                          f"SELECT RAISE(ABORT, '{MIG_OVERLAP}') WHERE EXISTS ({_OVERLAP_SQL}); END"))


def uninstall(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER IF EXISTS tr_mig_instances_disjoint ON mig_instances"))
        conn.execute(text("DROP FUNCTION IF EXISTS mig_instances_disjoint()"))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS tr_mig_instances_insert"))
    conn.execute(text("DROP TRIGGER IF EXISTS tr_mig_instances_update"))


@dataclass(frozen=True)
class SliceGrant:
    lease_id: str
    enforcement: str
    share_pct: int
    memory_mib: int


@dataclass(frozen=True)
class MigInstance:
    allocation_id: int
    device_id: int
    profile: str
    start_slot: int
    span: int


def record_grant(s: Session, lease_id: str, enforcement: str, share_pct: int, memory_mib: int) -> None:
    """The lease's enforcement; a slice of another mechanism on its device (MIXING, migration 0035) is
    refused by the database as a capacity race (``StaleClaim``: placed again on fresh state)."""
    record_grants(s, [(lease_id, enforcement, share_pct, memory_mib)])


def record_grants(s: Session, grants: Sequence[tuple[str, str, int, int]]) -> None:
    """:func:`record_grant` for several leases, (lease id, enforcement, share %, memory MiB) each, in one
    INSERT (BATCHWRITE); none: no statement."""
    if not grants:
        return
    rows = [dict(lease_id=lease, enforcement=how, share_pct=pct, memory_mib=mib) for lease, how, pct, mib in grants]
    try:
        s.execute(insert(SliceGrantRow.__table__),  # type: ignore[arg-type]  # Core, at once (ORDERS)
                  rows if len(rows) > 1 else rows[0])
    except (IntegrityError, OperationalError) as e:
        if is_over_capacity(e) or getattr(e.orig, "sqlstate", None) == "40P01":
            raise StaleClaim(str(e.orig)) from None
        raise


def record_instances(s: Session, lease_id: str, placed: Iterable[tuple[int, str, int, int]]) -> None:
    """The MIG instances of the lease's open allocations: (device id, profile, start slot, span) each,
    on the allocation of that device this lease holds with the latest start. Flushes: the trigger
    refuses an overlap here (an IntegrityError carrying OVER_CAPACITY)."""
    for device_id, profile, start, span in placed:
        alloc_id = s.scalar(select(AllocationRow.id).where(AllocationRow.lease_id == lease_id,
                                                           AllocationRow.device_id == device_id)
                            .order_by(AllocationRow.start_at.desc(), AllocationRow.id.desc()).limit(1))
        if alloc_id is None:
            continue
        s.add(MigInstanceRow(allocation_id=alloc_id, device_id=device_id, profile=profile, start_slot=start, span=span))
    try:
        s.flush()
    except (IntegrityError, OperationalError) as e:
        if is_over_capacity(e) or getattr(e.orig, "sqlstate", None) == "40P01":
            raise StaleClaim(str(e.orig)) from None
        raise


def grants(s: Session, lease_ids: Iterable[str]) -> dict[str, SliceGrant]:
    ids = list(set(lease_ids))
    if not ids:
        return {}
    rows = s.scalars(select(SliceGrantRow).where(SliceGrantRow.lease_id.in_(ids)))
    return {r.lease_id: SliceGrant(r.lease_id, r.enforcement, r.share_pct, r.memory_mib) for r in rows}


def instances_of(s: Session, lease_id: str) -> dict[int, MigInstance]:
    """Device id -> the MIG instance of the lease's latest allocation on it."""
    q = (select(MigInstanceRow).join(AllocationRow, AllocationRow.id == MigInstanceRow.allocation_id)
         .where(AllocationRow.lease_id == lease_id).order_by(AllocationRow.start_at))
    return {r.device_id: MigInstance(r.allocation_id, r.device_id, r.profile, r.start_slot, r.span)
            for r in s.scalars(q)}


def busy_instances(s: Session, start: datetime, end: datetime | None,
                   exclude_lease: str | None = None) -> Mapping[int, list[tuple[int, int]]]:
    """Device id -> (start slot, span) of the MIG instances of live leases whose allocation overlaps the window."""
    overlap = and_(or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > start),
                   or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > AllocationRow.start_at))
    if end is not None:
        overlap = and_(overlap, AllocationRow.start_at < end)
    q = (select(MigInstanceRow.device_id, MigInstanceRow.start_slot, MigInstanceRow.span)
         .join(AllocationRow, AllocationRow.id == MigInstanceRow.allocation_id)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .where(LeaseRow.state.in_([LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value]), overlap))
    if exclude_lease is not None:
        q = q.where(AllocationRow.lease_id != exclude_lease)
    out: dict[int, list[tuple[int, int]]] = {}
    for device_id, slot, span in s.execute(q):
        out.setdefault(device_id, []).append((slot, span))
    return out

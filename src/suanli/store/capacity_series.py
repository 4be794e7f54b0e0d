"""The stored capacity time series (``capacity_samples``, migration 0024) and the reads that sampling needs.

One row per node and span: ``(resolution, bucket_start, node)`` is unique, so writing a sample or an
aggregate twice (a retried pass, two replicas) inserts it once (``ON CONFLICT DO NOTHING`` on both
SQLite and PostgreSQL). Rows are never updated; the background pass inserts raw rows, inserts hour
and day aggregates of complete buckets, and deletes rows past their retention once covered by a
coarser row (:mod:`suanli.service.capacity`). The table is not in the audit trail: it records
measurements, not anybody's change.

Also here: the allocation windows of nodes over a span (for the exact rented integral) and the
heatmap's one read (devices, nodes, the leases holding each device now, and their tenants' names).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    delete,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.capacity_series import SUMMED, NodeSpan, Resolution, bucket_start
from suanli.store.tables import AccountRow, AllocationRow, Base, DeviceRow, LeaseRow, NodeRow
from suanli.store.types import DecimalText, UTCDateTime


class CapacitySampleRow(Base):
    """One node over ``[bucket_start, bucket_start + seconds)`` (see :class:`suanli.domain.capacity_series.NodeSpan`)."""

    __tablename__ = "capacity_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resolution: Mapped[str] = mapped_column(String(8))
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[Decimal] = mapped_column(DecimalText)
    node: Mapped[str] = mapped_column(String(120))
    site: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    supplier: Mapped[str] = mapped_column(String(64))
    devices: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    available: Mapped[Decimal] = mapped_column(DecimalText)
    down: Mapped[Decimal] = mapped_column(DecimalText)
    allocated: Mapped[Decimal] = mapped_column(DecimalText)
    rented: Mapped[Decimal] = mapped_column(DecimalText)
    fragmented: Mapped[Decimal] = mapped_column(DecimalText)
    unrented: Mapped[Decimal] = mapped_column(DecimalText)
    busy: Mapped[Decimal] = mapped_column(DecimalText)
    measured: Mapped[Decimal] = mapped_column(DecimalText)
    it_kwh: Mapped[Decimal] = mapped_column(DecimalText)
    measured_kwh: Mapped[Decimal] = mapped_column(DecimalText)
    facility_kwh: Mapped[Decimal] = mapped_column(DecimalText)
    power_cost: Mapped[Decimal] = mapped_column(DecimalText)
    __table_args__ = (
        UniqueConstraint("resolution", "bucket_start", "node", name="uq_capacity_samples_key"),
        CheckConstraint("resolution in ('raw','hour','day')", name="ck_capacity_samples_resolution"),
        Index("ix_capacity_samples_time", "resolution", "bucket_start"),
    )


_LABELS = ("node", "site", "model", "supplier", "devices", "state")


def _span(r: CapacitySampleRow) -> NodeSpan:
    return NodeSpan(resolution=Resolution(r.resolution), start=r.bucket_start,
                    **{k: getattr(r, k) for k in _LABELS}, **{k: getattr(r, k) for k in SUMMED})


def _values(x: NodeSpan) -> dict[str, Any]:
    return {"resolution": x.resolution.value, "bucket_start": x.start,
            **{k: getattr(x, k) for k in _LABELS}, **{k: getattr(x, k) for k in SUMMED}}


def insert_spans(s: Session, spans: Sequence[NodeSpan]) -> int:
    """Insert the spans whose key is not stored yet; returns how many were new."""
    if not spans:
        return 0
    table: Any = CapacitySampleRow.__table__
    dialect = s.get_bind().dialect.name
    ins: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = ins.on_conflict_do_nothing(index_elements=["resolution", "bucket_start", "node"])
    stmt = stmt.returning(table.c.id)
    return len(s.execute(stmt, [_values(x) for x in spans]).all())


def last_raw_end(s: Session) -> datetime | None:
    """When the newest raw sample was taken (the end of its span), or None before the first."""
    row = s.execute(select(CapacitySampleRow.bucket_start, CapacitySampleRow.seconds)
                    .where(CapacitySampleRow.resolution == Resolution.RAW.value)
                    .order_by(CapacitySampleRow.bucket_start.desc()).limit(1)).first()
    if row is None:
        return None
    return row[0] + timedelta(seconds=float(row[1]))


_COLUMNS = ("resolution", "bucket_start", *_LABELS, *SUMMED)


def spans_between(s: Session, resolution: Resolution, start: datetime, end: datetime, *,
                  supplier: str | None = None) -> list[NodeSpan]:
    """Rows of ``resolution`` whose bucket starts in [start, end) (``supplier``: its nodes only),
    ordered by time and node. Columns, not ORM objects: a report reads tens of thousands of rows."""
    raw_text = s.get_bind().dialect.name == "sqlite"  # decimal strings: Decimal() them here (4x faster)
    cols = [type_coerce(getattr(CapacitySampleRow, c), String) if raw_text and c in SUMMED
            else getattr(CapacitySampleRow, c) for c in _COLUMNS]
    q = select(*cols).where(CapacitySampleRow.resolution == resolution.value,
                            CapacitySampleRow.bucket_start >= start, CapacitySampleRow.bucket_start < end)
    if supplier is not None:
        q = q.where(CapacitySampleRow.supplier == supplier)
    q = q.order_by(CapacitySampleRow.bucket_start, CapacitySampleRow.node)
    res = Resolution(resolution)
    n = len(_LABELS)
    out = []
    for row in s.execute(q):
        sums = row[2 + n:]
        values = map(Decimal, sums) if raw_text else sums
        out.append(NodeSpan(res, row[1], **dict(zip(_LABELS, row[2:2 + n], strict=True)),
                            **dict(zip(SUMMED, values, strict=True))))
    return out


def latest_start(s: Session, resolution: Resolution) -> datetime | None:
    return s.scalar(select(func.max(CapacitySampleRow.bucket_start))
                    .where(CapacitySampleRow.resolution == resolution.value))


def oldest(s: Session, resolution: Resolution) -> datetime | None:
    return s.scalar(select(func.min(CapacitySampleRow.bucket_start))
                    .where(CapacitySampleRow.resolution == resolution.value))


def delete_covered(s: Session, resolution: Resolution, coarser: Resolution, before: datetime) -> int:
    """Delete rows of ``resolution`` starting before ``before`` whose node has a ``coarser`` row for
    the bucket that holds them (a row not yet aggregated is kept)."""
    fine = s.execute(select(CapacitySampleRow.id, CapacitySampleRow.node, CapacitySampleRow.bucket_start)
                     .where(CapacitySampleRow.resolution == resolution.value,
                            CapacitySampleRow.bucket_start < before)).all()
    if not fine:
        return 0
    first = bucket_start(min(t for _i, _n, t in fine), coarser)
    have = {(n, t) for n, t in s.execute(
        select(CapacitySampleRow.node, CapacitySampleRow.bucket_start)
        .where(CapacitySampleRow.resolution == coarser.value,
               CapacitySampleRow.bucket_start >= first, CapacitySampleRow.bucket_start < before))}
    doomed = [i for i, n, t in fine if (n, bucket_start(t, coarser)) in have]
    for k in range(0, len(doomed), 500):
        s.execute(delete(CapacitySampleRow).where(CapacitySampleRow.id.in_(doomed[k:k + 500]))
                  .execution_options(synchronize_session=False))
    return len(doomed)


# --------------------------------------------------------------------------- devices and allocations of nodes


@dataclass(frozen=True)
class Device:
    """One device of the fleet with its node's labels and state now."""

    node: str
    slot: int
    model: str
    site: str
    supplier: str
    node_state: str
    cpu_cores: int


def devices(s: Session, supplier: str | None = None) -> list[Device]:
    """Every device (``supplier``: of its nodes), ordered by node and slot; one query of columns."""
    q = (select(NodeRow.name, DeviceRow.slot, DeviceRow.model, NodeRow.site, NodeRow.supplier, NodeRow.state,
                NodeRow.cpu_cores).join(NodeRow, NodeRow.id == DeviceRow.node_id).order_by(NodeRow.id, DeviceRow.slot))
    if supplier is not None:
        q = q.where(NodeRow.supplier == supplier)
    return [Device(*row) for row in s.execute(q)]



@dataclass(frozen=True)
class Window:
    """An allocation on a node: ``milli`` of device ``slot`` over [start, end) (end None: open)."""

    node: str
    slot: int
    milli: int
    start: datetime
    end: datetime | None


def windows(s: Session, start: datetime, end: datetime, nodes: Iterable[str] | None = None) -> list[Window]:
    """Allocation windows (not drawn on a reservation, not zero-length) overlapping [start, end], the
    instant ``end`` included (what holds a device at the sample instant)."""
    q = (select(NodeRow.name, DeviceRow.slot, AllocationRow.milli, AllocationRow.start_at, AllocationRow.end_at)
         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id).join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .where(AllocationRow.drawn_from.is_(None), AllocationRow.start_at <= end,
                or_(AllocationRow.end_at.is_(None), and_(AllocationRow.end_at > start,
                                                         AllocationRow.end_at > AllocationRow.start_at))))
    if nodes is not None:
        q = q.where(NodeRow.name.in_(list(nodes)))
    return [Window(n, sl, m, a, b) for n, sl, m, a, b in s.execute(q)]


# --------------------------------------------------------------------------- heatmap


@dataclass(frozen=True)
class Holding:
    """A lease's hold on one device now: its share (milli), the lease and its tenant."""

    node: str
    slot: int
    milli: int
    lease_id: str
    lease_state: str
    tenant_id: str
    tenant_name: str
    drawn: bool
    """Drawn on a reservation (the reservation's own row already holds the device)."""


def holdings(s: Session, now: datetime, supplier: str | None = None) -> list[Holding]:
    """Every allocation holding a device at ``now`` with its lease and tenant: one query."""
    q = (select(NodeRow.name, DeviceRow.slot, AllocationRow.milli, LeaseRow.id, LeaseRow.state, LeaseRow.tenant_id,
                AccountRow.name, AllocationRow.drawn_from)
         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id).join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id).join(AccountRow, AccountRow.id == LeaseRow.tenant_id)
         .where(AllocationRow.start_at <= now, or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > now))
         .order_by(NodeRow.name, DeviceRow.slot, LeaseRow.id))
    if supplier is not None:
        q = q.where(NodeRow.supplier == supplier)
    return [Holding(n, sl, m, lid, st, tid, tname, d is not None) for n, sl, m, lid, st, tid, tname, d in s.execute(q)]

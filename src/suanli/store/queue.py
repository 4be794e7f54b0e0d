"""The order queue's rows (tables of :mod:`suanli.store.queue_tables`; docs/queue.md): waiting orders
as domain objects (:func:`queued_orders`, also what DEFRAG plans for), fair-share weights, spot
preemption notices, and the holds the reservation calendar reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from suanli.domain.leases import LeaseState
from suanli.domain.queueing import Hold, Priority, QueuedOrder
from suanli.store.accounts import principal_of
from suanli.store.queue_tables import OrderQueueRow, QueueWeightRow, SpotPreemptionRow
from suanli.store.tables import AccountRow, AllocationRow, LeaseRow, OrderRow

WAITING = "waiting"


def _hours(spec: dict[str, Any]) -> Decimal | None:
    window = spec.get("window") or {}
    if window.get("hours") is not None:
        try:
            return Decimal(str(window["hours"]))
        except InvalidOperation:
            return None
    if window.get("end") is not None:
        return None  # a fixed end: the service computes the term from it
    return None


def _queued(o: OrderRow, q: OrderQueueRow) -> QueuedOrder:
    return QueuedOrder(order_id=o.id, tenant_id=o.tenant_id, account_id=q.account_id, form=o.form, spec=o.spec,
                       priority=Priority(q.priority), wait_until=q.wait_until, queued_at=q.queued_at,
                       idempotency_key=o.idempotency_key, hours=_hours(o.spec))


def queued_orders(s: Session, *, tenant_id: str | None = None, for_update: bool = False) -> list[QueuedOrder]:
    """The orders waiting in the queue (state ``waiting``), in arrival order (the service ranks them)."""
    q = (select(OrderRow, OrderQueueRow).join(OrderQueueRow, OrderQueueRow.order_id == OrderRow.id)
         .where(OrderQueueRow.state == WAITING).order_by(OrderQueueRow.queued_at, OrderRow.id))
    if tenant_id is not None:
        q = q.where(OrderRow.tenant_id == tenant_id)
    if for_update:
        q = q.with_for_update(of=OrderQueueRow)
    return [_queued(o, r) for o, r in s.execute(q)]


def insert_queued(s: Session, *, order_id: str, tenant_id: str, account_id: str, key: str, form: str,
                  spec: dict[str, Any], start: datetime, end: datetime | None, reason: str, arrival: datetime,
                  ordered_by: str | None, priority: str, wait_until: datetime) -> None:
    """Record an order that waits: the order (status ``queued``, no lease yet) and its queue row."""
    s.add(OrderRow(id=order_id, tenant_id=tenant_id, idempotency_key=key, form=form, spec=spec, start_at=start,
                   end_at=end, status="queued", reason=reason, created_at=arrival, ordered_by=ordered_by))
    s.flush()
    s.add(OrderQueueRow(order_id=order_id, tenant_id=tenant_id, account_id=account_id, priority=priority,
                        wait_until=wait_until, queued_at=arrival, state=WAITING))
    s.flush()


def close(s: Session, order_id: str, state: str, at: datetime) -> None:
    s.execute(update(OrderQueueRow).where(OrderQueueRow.order_id == order_id, OrderQueueRow.state == WAITING)
              .values(state=state, closed_at=at))


def queue_state(s: Session, order_id: str) -> str | None:
    return s.scalar(select(OrderQueueRow.state).where(OrderQueueRow.order_id == order_id))


def queue_info(s: Session, order_ids: Iterable[str]) -> dict[str, tuple[str, datetime, str]]:
    """order id -> (priority, wait_until, state) for orders that waited."""
    ids = list(order_ids)
    if not ids:
        return {}
    rows = s.execute(select(OrderQueueRow.order_id, OrderQueueRow.priority, OrderQueueRow.wait_until,
                            OrderQueueRow.state).where(OrderQueueRow.order_id.in_(ids)))
    return {i: (p, w, st) for i, p, w, st in rows}


def account_principal(s: Session, account_id: str) -> Any:
    row = s.get(AccountRow, account_id)
    assert row is not None
    org_name = (s.scalar(select(AccountRow.name).where(AccountRow.id == row.organisation_id))
                if row.organisation_id else None)
    return principal_of(row.id, row.name, row.role, row.supplier, row.organisation_id, row.member_role,
                        organisation_name=org_name)


# ------------------------------------------------------------------------------------------ weights
@dataclass(frozen=True)
class Weight:
    tenant_id: str
    tenant: str
    weight: Decimal
    allow_high: bool
    set_at: datetime | None


def weights(s: Session) -> dict[str, Decimal]:
    return {t: w for t, w in s.execute(select(QueueWeightRow.tenant_id, QueueWeightRow.weight))}


def list_weights(s: Session) -> list[Weight]:
    q = (select(QueueWeightRow, AccountRow.name).join(AccountRow, AccountRow.id == QueueWeightRow.tenant_id)
         .order_by(AccountRow.name))
    return [Weight(r.tenant_id, name, r.weight, r.allow_high, r.set_at) for r, name in s.execute(q)]


def allows_high(s: Session, tenant_id: str) -> bool:
    return bool(s.scalar(select(QueueWeightRow.allow_high).where(QueueWeightRow.tenant_id == tenant_id)))


def set_weight(s: Session, tenant_id: str, weight: Decimal, allow_high: bool, by: str, at: datetime) -> None:
    row = s.get(QueueWeightRow, tenant_id, with_for_update=True)
    if row is None:
        s.add(QueueWeightRow(tenant_id=tenant_id, weight=weight, allow_high=allow_high, set_by=by, set_at=at))
    else:
        row.weight, row.allow_high, row.set_by, row.set_at = weight, allow_high, by, at
    s.flush()


# ------------------------------------------------------------------------------------------ usage, calendar
def used_milli(s: Session, now: datetime) -> dict[str, int]:
    """tenant -> device capacity (milli) its live leases hold now (the fair share's numerator)."""
    q = (select(LeaseRow.tenant_id, func.sum(AllocationRow.milli))
         .join(AllocationRow, AllocationRow.lease_id == LeaseRow.id)
         .where(LeaseRow.state == LeaseState.ACTIVE.value, AllocationRow.start_at <= now,
                (AllocationRow.end_at.is_(None)) | (AllocationRow.end_at > now), AllocationRow.drawn_from.is_(None))
         .group_by(LeaseRow.tenant_id))
    return {t: int(m or 0) for t, m in s.execute(q)}


def live_ends(s: Session, now: datetime) -> list[datetime]:
    """Known ends of live holds after ``now``: allocations' ends and pending preemption instants."""
    ends = list(s.scalars(select(AllocationRow.end_at).distinct().join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
                          .where(LeaseRow.state.in_([LeaseState.ACTIVE.value, LeaseState.SCHEDULED.value]),
                                 AllocationRow.end_at > now)))
    ends += list(s.scalars(select(SpotPreemptionRow.preempt_at).where(SpotPreemptionRow.done.is_(False),
                                                                       SpotPreemptionRow.preempt_at > now)))
    return [e for e in ends if e is not None]


def lease_holds(s: Session, lease_ids: Iterable[str], at: datetime) -> list[Hold]:
    """The open allocations of these leases as holds (what a preemption will free)."""
    ids = list(lease_ids)
    if not ids:
        return []
    q = select(AllocationRow.device_id, AllocationRow.milli, AllocationRow.start_at, AllocationRow.end_at).where(
        AllocationRow.lease_id.in_(ids), AllocationRow.drawn_from.is_(None),
        (AllocationRow.end_at.is_(None)) | (AllocationRow.end_at > at))
    return [Hold(d, m, st, e) for d, m, st, e in s.execute(q)]


# ------------------------------------------------------------------------------------------ spot preemption
@dataclass(frozen=True)
class Preemption:
    lease_id: str
    for_order: str
    noticed_at: datetime
    preempt_at: datetime
    done: bool


def has_work(s: Session) -> bool:
    """Some order waits in the queue or some spot lease's preemption is pending (one indexed probe each)."""
    waiting = select(OrderQueueRow.order_id).where(OrderQueueRow.state == WAITING).limit(1)
    pending = select(SpotPreemptionRow.lease_id).where(SpotPreemptionRow.done.is_(False)).limit(1)
    return s.execute(waiting).first() is not None or s.execute(pending).first() is not None


def preemptions(s: Session, *, pending_only: bool = True) -> list[Preemption]:
    q = select(SpotPreemptionRow).order_by(SpotPreemptionRow.preempt_at)
    if pending_only:
        q = q.where(SpotPreemptionRow.done.is_(False))
    return [Preemption(r.lease_id, r.for_order, r.noticed_at, r.preempt_at, r.done) for r in s.scalars(q)]


def preemption_of(s: Session, lease_id: str) -> Preemption | None:
    r = s.get(SpotPreemptionRow, lease_id)
    return None if r is None else Preemption(r.lease_id, r.for_order, r.noticed_at, r.preempt_at, r.done)


def add_preemption(s: Session, lease_id: str, for_order: str, noticed_at: datetime, preempt_at: datetime) -> None:
    s.add(SpotPreemptionRow(lease_id=lease_id, for_order=for_order, noticed_at=noticed_at, preempt_at=preempt_at,
                            done=False))
    s.flush()


def preemption_done(s: Session, lease_id: str) -> None:
    s.execute(update(SpotPreemptionRow).where(and_(SpotPreemptionRow.lease_id == lease_id))
              .values(done=True))

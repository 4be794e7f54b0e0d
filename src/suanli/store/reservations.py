"""Reservations of term and take-or-pay plans: what they hold, what is drawn on them.

A reservation is a lease of form ``reservation`` whose allocations hold whole devices and count
against the devices' capacity like any other (:mod:`suanli.store.capacity`). Its tenant's
orders draw on it: their allocations name it in ``drawn_from`` and are not counted again. What a
reservation still has free on a device is its own milli there less the drawn allocations of live
leases overlapping the window (worst case over the window, as :func:`busy_allocations`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from suanli.domain.leases import Lease, LeaseState, ProductForm
from suanli.errors import NotFoundError
from suanli.store import shapes as shapes_store
from suanli.store.leases import get_lease
from suanli.store.money_tables import PricePlanRow
from suanli.store.tables import AllocationRow, LeaseRow

_LIVE = [LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value]


def _held(start: datetime, end: datetime | None) -> ColumnElement[bool]:
    """Allocation window overlaps [start, end) and is not zero-length."""
    cond = and_(or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > start),
                or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > AllocationRow.start_at))
    if end is not None:
        cond = and_(cond, AllocationRow.start_at < end)
    return cond


def covering(s: Session, tenant_id: str, start: datetime, end: datetime | None) -> list[Lease]:
    """The tenant's live reservations whose window holds all of [start, end), oldest first."""
    q = (select(LeaseRow.id).where(LeaseRow.tenant_id == tenant_id, LeaseRow.form == ProductForm.RESERVATION.value,
                                   LeaseRow.state.in_(_LIVE), LeaseRow.start_at <= start)
         .order_by(LeaseRow.created_at, LeaseRow.id))
    if end is None:
        q = q.where(LeaseRow.end_at.is_(None))
    else:
        q = q.where(or_(LeaseRow.end_at.is_(None), LeaseRow.end_at >= end))
    return [get_lease(s, lease_id) for lease_id in s.scalars(q)]


def free_on(s: Session, reservation_id: str, start: datetime, end: datetime | None) -> dict[int, int]:
    """Device id -> milli the reservation still has free over [start, end)."""
    free: dict[int, int] = {}
    own = select(AllocationRow.device_id, AllocationRow.milli).where(
        AllocationRow.lease_id == reservation_id, AllocationRow.drawn_from.is_(None), _held(start, end))
    for device, milli in s.execute(own):
        free[device] = free.get(device, 0) + milli
    drawn = (select(AllocationRow.device_id, AllocationRow.milli)
             .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
             .where(AllocationRow.drawn_from == reservation_id, LeaseRow.state.in_(_LIVE), _held(start, end)))
    for device, milli in s.execute(drawn):
        free[device] = free.get(device, 0) - milli
    return {d: m for d, m in free.items() if m > 0}


def shorten(s: Session, reservation_id: str, at: datetime) -> None:
    """The reservation holds its devices until ``at`` only (``at`` later than now); allocations
    drawn on it are counted against the devices themselves from ``at`` on (split there: the
    part before stays drawn, the part after is an ordinary allocation, which the database checks
    against capacity once the reservation has let go)."""
    s.execute(update(AllocationRow)
              .where(AllocationRow.lease_id == reservation_id, AllocationRow.start_at < at,
                     or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > at))
              .values(end_at=at))
    s.execute(update(LeaseRow).where(LeaseRow.id == reservation_id).values(end_at=at))
    shapes_store.end_open_holds(s, reservation_id, at)  # its nodes' host share goes with its devices
    s.flush()
    undraw(s, reservation_id, at)


def undraw(s: Session, reservation_id: str, at: datetime) -> None:
    """Allocations drawn on the reservation stop being drawn at ``at`` (see :func:`shorten`)."""
    rows = list(s.scalars(select(AllocationRow).where(
        AllocationRow.drawn_from == reservation_id, or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > at),
        or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > AllocationRow.start_at))))
    parts = [(a.lease_id, a.device_id, a.milli, max(a.start_at, at), a.end_at) for a in rows]  # before the split
    for a in rows:
        if a.start_at >= at:
            a.drawn_from = None
        else:
            s.add(AllocationRow(lease_id=a.lease_id, device_id=a.device_id, milli=a.milli, memory_mib=a.memory_mib,
                                start_at=at, end_at=a.end_at, drawn_from=None))
            a.end_at = at
        s.flush()
    # SHAPES: from ``at`` on they hold their own host share (the reservation's ends there)
    shapes_store.hold_shares(s, parts)


def get_plan_row(s: Session, plan_id: str, *, for_update: bool = False) -> PricePlanRow:
    q = select(PricePlanRow).where(PricePlanRow.id == plan_id)
    if for_update:
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(f"no price plan {plan_id!r}", plan=plan_id)
    return row


def set_plan_end(s: Session, plan_id: str, at: datetime) -> None:
    s.execute(update(PricePlanRow).where(PricePlanRow.id == plan_id).values(effective_to=at))


def delete_plan(s: Session, plan_id: str) -> None:
    """A plan ended before it started never applied: it is removed (its reservation is kept, cancelled)."""
    s.delete(get_plan_row(s, plan_id))
    s.flush()

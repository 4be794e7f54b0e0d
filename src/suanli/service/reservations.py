"""Reservations: a term (包月/包年) or take-or-pay (包销) plan holds the devices it sells.

- :func:`reserve`: creating such a plan places ``N`` whole devices of its model for the plan's
  window ``[effective_from, effective_to)`` through the same placement engine and grant as an
  order (snapshot, compare-and-set claim, allocations the database checks against capacity),
  recorded as a lease of form ``reservation`` of the tenant (with an order row, key
  ``plan:<id>``). If the fleet cannot hold it, :class:`CapacityError` (409); the caller's
  transaction then writes nothing.
- :func:`draw`: the tenant's orders are placed on its reservations first: on a snapshot in which
  only the reservation's devices are offered, each with what is not drawn yet. An order that
  fits lies on the reserved devices and its allocations name the reservation (``drawn_from``):
  they do not count against capacity twice. An order that does not fit whole on one reservation
  (more devices, another model, a window outside the reservation's) is placed on the fleet as
  usual. Only a window inside the reservation's is drawn on.
- :func:`release`: ending or cancelling the plan gives the devices back at that instant; orders
  that drew on it keep their devices, counted against the fleet from then on.

The reservation lease itself is never metered, never provisioned on an engine, never runs jobs,
and its tenant cannot end it (only the plan's end does): see docs/billing.md "Term".
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.leases import (
    PAUSED_STATES,
    Lease,
    LeaseState,
    OrderSpec,
    ProductForm,
    parse_order,
    placement_spec,
)
from suanli.errors import CapacityError, NotFoundError
from suanli.ledger.plans import PricePlan
from suanli.ledger.terms import HeldSpan
from suanli.service import shapes
from suanli.service.leases import transition
from suanli.service.placement import Plan, Rejection, Snapshot, plan, plan_devices, snapshot
from suanli.service.platform import Platform
from suanli.store import leases as lease_store
from suanli.store import reservations as store
from suanli.store import shapes as shapes_store


def reserve(p: Platform, s: Session, plan_: PricePlan, now: datetime) -> str:
    """Place and grant the plan's devices; returns the reservation's lease id."""
    held = plan_.held
    assert held is not None
    model, count = held
    start, end = plan_.effective_from, plan_.effective_to
    snap = snapshot(p, s, start, end)
    out = plan_devices(p, snap, model, count, seed=plan_.id)
    window = f"from {start.isoformat()} to {end.isoformat() if end else 'open-ended'}"
    if isinstance(out, Rejection):
        raise CapacityError(f"the fleet cannot hold {count} x {model} {window} for this {plan_.kind.value} plan "
                            f"({out.message}); nothing was written: hold fewer devices, start later, or add capacity",
                            model=model, devices=count)
    lease_store.claim_devices(s, snap.versions(out.grants))
    order_id, lease_id = "ord_" + secrets.token_hex(6), "ls_" + secrets.token_hex(6)
    reason = f"holds {count} x {model} for {plan_.kind.value} plan {plan_.id}"
    lease_store.insert_order(s, order_id=order_id, tenant_id=plan_.tenant, key="plan:" + plan_.id,
                             form=ProductForm.RESERVATION,
                             spec={"form": ProductForm.RESERVATION.value, "quantity": count, "models": [model],
                                   "plan": plan_.id},
                             start=start, end=end, status="fulfilled", reason=reason, now=now)
    state = LeaseState.ACTIVE if start <= now else LeaseState.SCHEDULED
    lease_store.insert_lease(s, lease_id=lease_id, order_id=order_id, tenant_id=plan_.tenant,
                             form=ProductForm.RESERVATION, state=state, start=start, end=end,
                             activated_at=start if state is LeaseState.ACTIVE else None, reason=reason,
                             commission_rate=Decimal(p.settings.commission_rate), placement=out.reason, now=now)
    lease_store.add_event(s, lease_id, now, LeaseState.PENDING, state, reason)
    shapes_store.add_holds(s, lease_id, shapes.holds_for(snap, out, None), start, end)  # SHAPES: its nodes' share
    lease_store.insert_allocations(s, lease_id, out.grants, start, end)
    return lease_id


def draw(p: Platform, s: Session, tenant_id: str, spec: OrderSpec, start: datetime, seed: str
         ) -> tuple[Plan, Snapshot, str] | None:
    """Place the order on one of the tenant's reservations covering ``[start, spec.end)``:
    (plan, the snapshot it was made on, reservation lease id), or None when none holds it."""
    reservations = store.covering(s, tenant_id, start, spec.end)
    if not reservations:
        return None
    # versions before what is drawn (as store.leases reads them before busy allocations): a draw
    # committed after this read moves a version, and the claim of a plan made on stale room fails
    seen = {d.id: d.version for d in lease_store.device_versions(s)}
    for res in reservations:
        free = store.free_on(s, res.id, start, spec.end)
        if not free:
            continue
        snap = snapshot(p, s, start, spec.end, only=free)
        snap.devices = [dataclasses.replace(d, version=seen.get(d.id, -1)) for d in snap.devices]
        out = plan(p, snap, spec, seed=seed)
        if isinstance(out, Plan):
            return out, snap, res.id
    return None


def place_again(p: Platform, s: Session, lease: Lease, stored: Mapping[str, Any], snap: Snapshot, start: datetime,
                now: datetime) -> tuple[Plan | Rejection, str | None]:
    """Where an interrupted or suspended lease goes back (its devices were taken): a reservation
    anywhere its devices fit; any other lease on its tenant's reservation first, else on the fleet.
    Returns (outcome, reservation it draws on or None)."""
    seed = f"{lease.id}@{now.isoformat()}"
    if lease.form is ProductForm.RESERVATION:
        return plan_devices(p, snap, str(stored["models"][0]), int(stored["quantity"]), seed), None
    spec = dataclasses.replace(parse_order(placement_spec(stored), now=now), start=None, end=lease.end)
    drawn = draw(p, s, lease.tenant_id, spec, start, seed)
    if drawn is not None:
        return drawn[0], drawn[2]
    return plan(p, snap, spec, seed), None


def held_spans(s: Session, plan_: PricePlan, now: datetime) -> list[HeldSpan] | None:
    """The device spans the plan's reservation holds (:mod:`suanli.ledger.terms`): its allocations,
    as granted and given up, and, while it waits to be re-placed after a failure (interrupted or
    suspended), its devices presumed back from ``now`` to its end: a fee billed in advance is for
    the time to come, and what was not held is credited once it is known (re-placed or ended).
    None: the plan holds nothing (no reservation)."""
    if plan_.held is None or not plan_.reservation:
        return None
    try:
        res = lease_store.get_lease(s, plan_.reservation)
    except NotFoundError:
        return []
    spans: list[HeldSpan] = [(a.start, a.end, a.share) for a in res.allocations
                             if a.end is None or a.end > a.start]
    if res.state in PAUSED_STATES:
        spans.extend((max(now, res.start), res.end, Decimal(1)) for _ in range(plan_.held[1]))
    return spans


def release(s: Session, res: Lease, at: datetime, now: datetime, why: str) -> None:
    """Give the reservation's devices back at ``at`` (now or later); one waiting to be re-placed
    after a failure ends then too (it is never re-placed past the plan's end)."""
    if at <= now:
        if res.state is LeaseState.SCHEDULED and res.start >= now:
            transition(s, res, LeaseState.CANCELLED, now, why)
        elif res.state in (LeaseState.SCHEDULED, LeaseState.ACTIVE, *PAUSED_STATES):
            transition(s, res, LeaseState.ENDED, now, why)
        store.undraw(s, res.id, now)
        return
    if res.end is not None and res.end <= at:
        return
    store.shorten(s, res.id, at)
    lease_store.add_event(s, res.id, now, res.state, res.state, f"{why}: holds its devices until {at.isoformat()}")

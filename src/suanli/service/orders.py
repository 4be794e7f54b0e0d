"""Orders: validate, place through the scheduler, grant devices, idempotently.

``create_order`` runs placement and the grant in one transaction; the grant is a compare-and-set
on each device (see :mod:`suanli.store.leases`). If another order took one of the planned devices
in the meantime, the transaction rolls back and placement runs again on fresh state (bounded
retries). A retried request with the same ``Idempotency-Key`` returns the first result.

Recorded time is granted time: the order keeps its arrival (``created_at``); the lease's start,
its activation and its allocations start at the instant of the grant, read from the clock inside
the attempt that claimed the devices (a reservation: at its start, or at the grant if later).
The database refuses allocations beyond a device's capacity (:mod:`suanli.store.capacity`);
a refusal is a stale claim, retried like one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import LeaseState, OrderSpec, ProductForm, order_to_dict, parse_order
from suanli.errors import CapacityError, ConflictError, ValidationError
from suanli.service import quotes, reservations, spend
from suanli.service.leases import transition
from suanli.service.placement import Plan, Rejection, plan, snapshot
from suanli.service.platform import Platform
from suanli.store import leases as store
from suanli.store.leases import OrderRecord as OrderRecord  # re-exported: the API answers with it
from suanli.store.leases import StaleClaim

MAX_RETRIES = 30


@dataclass(frozen=True)
class OrderResult:
    order: OrderRecord
    replayed: bool


def create_order(p: Platform, actor: Principal, raw: dict[str, Any], idempotency_key: str | None = None) -> OrderResult:
    authorize(actor, Action.PLACE_ORDER)
    arrival = p.clock.now()
    spec = parse_order(raw, now=arrival)
    stored_spec = order_to_dict(spec, window=raw)
    key = idempotency_key or secrets.token_hex(12)
    if len(key) > 128:
        raise ValidationError("Idempotency-Key must be at most 128 characters", field="idempotency_key")
    for _attempt in range(MAX_RETRIES):
        try:
            with p.tx() as s:
                prior = store.find_order_by_key(s, actor.tenant_id, key)
                if prior is not None:
                    if prior.spec != stored_spec:
                        raise ConflictError(
                            f"Idempotency-Key {key!r} was used for a different order ({prior.id}); use a new key",
                            order=prior.id)
                    return OrderResult(prior, replayed=True)
                limit = spend.lock_spender(s, actor)  # a member's orders serialise on its row
                planned = p.clock.now()  # this attempt's view; the window [planned, end) holds [granted, end)
                order_id = "ord_" + secrets.token_hex(6)
                # the tenant's reservations (term plans) first: drawn allocations name the reservation
                drawn = reservations.draw(p, s, actor.tenant_id, spec, max(spec.start or planned, planned),
                                          seed=order_id)
                outcome: Plan | Rejection
                if drawn is not None:
                    outcome, snap, drawn_from = drawn
                else:
                    snap = snapshot(p, s, max(spec.start or planned, planned), spec.end)
                    outcome, drawn_from = plan(p, snap, spec, seed=order_id), None
                if isinstance(outcome, Rejection):
                    _record(p, s, actor, key, spec, stored_spec, arrival, p.clock.now(), order_id, None, outcome)
                    rejected = store.get_order(s, order_id, tenant_id=actor.tenant_id)
                else:
                    store.claim_devices(s, snap.versions(outcome.grants))
                    granted = p.clock.now()  # the grant instant: read after the claim, in this attempt
                    _record(p, s, actor, key, spec, stored_spec, arrival, granted, order_id, outcome, None,
                            drawn_from, limit)
                    return OrderResult(store.get_order(s, order_id, tenant_id=actor.tenant_id), replayed=False)
            raise CapacityError(f"order {rejected.id} rejected: {rejected.reason}", order=rejected.id,
                                lease=rejected.lease_id)
        except StaleClaim:
            continue
    raise ConflictError("too many concurrent orders for the same devices; retry the order")


def _record(p: Platform, s: Any, actor: Principal, key: str, spec: OrderSpec, stored: dict[str, Any],
            arrival: datetime, now: datetime, order_id: str, ok: Plan | None, rej: Rejection | None,
            drawn_from: str | None = None, limit: Decimal | None = None) -> None:
    """The order keeps its arrival (``created_at``) and the start it asked for; the lease, its
    event and its allocations start at ``now``, the instant of the grant (or of the rejection),
    or at the reserved start when that is later."""
    lease_id = "ls_" + secrets.token_hex(6)
    status = "fulfilled" if ok else "rejected"
    reason = ok.reason if ok else f"{rej.reason.value}: {rej.message}"  # type: ignore[union-attr]
    start = max(spec.start or now, now)
    if spec.end is not None and spec.end <= start:
        raise ConflictError(f"the order's window ended ({spec.end.isoformat()}) before it could be granted "
                            f"({start.isoformat()}); order a new window")
    store.insert_order(s, order_id=order_id, tenant_id=actor.tenant_id, key=key, form=spec.form, spec=stored,
                       start=spec.start or arrival, end=spec.end, status=status, reason=reason, now=arrival)
    state = LeaseState.REJECTED if ok is None else LeaseState.ACTIVE if start <= now else LeaseState.SCHEDULED
    store.insert_lease(s, lease_id=lease_id, order_id=order_id, tenant_id=actor.tenant_id, form=spec.form,
                       state=state, start=start, end=spec.end,
                       activated_at=start if state is LeaseState.ACTIVE else None,
                       reason="" if ok else reason, commission_rate=Decimal(p.settings.commission_rate),
                       placement=(f"drawn on reservation {drawn_from}: " if drawn_from else "") + (ok.reason if ok else ""),
                       now=now)
    store.add_event(s, lease_id, now, LeaseState.PENDING, state, reason)
    if ok is not None:
        store.insert_allocations(s, lease_id, ok.grants, start, spec.end, drawn_from=drawn_from)
        quotes.record_grant_quote(p, s, lease_id, now)  # the price at the grant (binds a fixed term, a reservation)
    # who ordered; a member's commitment against its monthly limit (refused: nothing is written)
    spend.record_order(p, s, actor, order_id, lease_id if ok is not None else None, limit)


def list_orders(p: Platform, actor: Principal, offset: int = 0, limit: int = 50) -> list[OrderRecord]:
    tenant = authorize(actor, Action.READ_ORDERS).tenant_id
    with p.tx() as s:
        return store.list_orders(s, tenant_id=tenant, offset=offset, limit=limit)


def cancel_order(p: Platform, actor: Principal, order_id: str) -> OrderRecord:
    """Cancel a reservation that has not started (its lease becomes cancelled, devices freed)."""
    tenant = authorize(actor, Action.CANCEL_ORDER).tenant_id
    with p.tx() as s:
        order = store.get_order(s, order_id, tenant_id=tenant)
        if order.lease_id is None:
            raise ConflictError(f"order {order_id} has no lease to cancel")
        lease = store.get_lease(s, order.lease_id, for_update=True)
        if lease.form is ProductForm.RESERVATION:
            raise ConflictError(f"order {order_id} is the reservation of a price plan ({order.spec.get('plan')}); it is "
                                "cancelled by ending the plan (operator: `suanli plan end PLAN`)", lease=lease.id)
        if lease.state is LeaseState.ACTIVE:
            raise ConflictError(f"order {order_id}'s lease {lease.id} is active; end it with `suanli lease end {lease.id}`",
                                lease=lease.id)
        transition(s, lease, LeaseState.CANCELLED, p.clock.now(), "cancelled by " + actor.name)
        store.set_order_status(s, order_id, "cancelled", "cancelled by " + actor.name)
        return store.get_order(s, order_id, tenant_id=tenant)

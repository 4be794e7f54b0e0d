"""Orders: validate, queue, place in batches, grant devices, idempotently.

An order is authorised, parsed and checked against the fleet's shape in the caller's thread: one
that can never fit (an unknown model or site, more devices than any node holds, a slice larger
than any device) is refused at once with a 422 and never queued. It is then placed by the
platform's placement loop (:mod:`suanli.service.order_loop`: one worker, batches of queued orders,
one transaction per batch, each order in its own SAVEPOINT) and the caller gets its result once the
batch is committed. An order the loop does not take within ``settings.order_wait_seconds`` is
withdrawn and refused with :class:`~suanli.errors.BusyError` (503, ``Retry-After``): nothing is
written. A retried request with the same ``Idempotency-Key`` returns the first result.

Recorded time is granted time: the order keeps its arrival (``created_at``, when it was queued);
the lease's start, its activation and its allocations start at the instant of the grant, read
from the clock inside the transaction that claims the devices (a reservation: at its start, or at
the grant if later). The database refuses allocations beyond a device's capacity
(:mod:`suanli.store.capacity`); a refusal re-places that order on fresh state.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import LeaseState, ProductForm, order_to_dict, parse_order
from suanli.errors import ConflictError, ValidationError
from suanli.ledger.quotes import Quote
from suanli.service import order_loop, order_queue
from suanli.service.leases import advance, transition
from suanli.service.order_loop import OrderResult as OrderResult  # re-exported: the API answers with it
from suanli.service.order_loop import Ticket
from suanli.service.placement import check_order
from suanli.service.platform import Platform
from suanli.store import leases as store
from suanli.store.leases import OrderRecord as OrderRecord  # re-exported: the API answers with it


def _ticket(p: Platform, actor: Principal, raw: dict[str, Any], idempotency_key: str | None) -> Ticket:
    """Admission: everything that needs no database (authorisation, the order's own rules)."""
    authorize(actor, Action.PLACE_ORDER)
    arrival = p.clock.now()
    spec = parse_order(raw, now=arrival)
    stored_spec = order_to_dict(spec, window=raw)
    key = idempotency_key or secrets.token_hex(12)
    if len(key) > 128:
        raise ValidationError("Idempotency-Key must be at most 128 characters", field="idempotency_key")
    return Ticket(actor, spec, stored_spec, key, arrival, contextvars.copy_context())


def _fits_shape(p: Platform, ticket: Ticket) -> bool:
    """True: the cached fleet shape says the order can fit. False: look again at a fresh shape
    (the fleet may have grown since the last batch) with :func:`_check_fresh`."""
    shape = order_loop.loop_for(p).shape()
    if shape is None or ticket.spec.max_rtt_ms is not None:  # measured RTTs change: look at them now
        return False
    try:
        check_order(shape, ticket.spec)
    except ValidationError:
        return False
    return True


def _check_fresh(p: Platform, ticket: Ticket) -> None:
    check_order(order_loop.loop_for(p).refresh_shape(), ticket.spec)  # a 422 here is the order's answer


def submit_order(p: Platform, actor: Principal, raw: dict[str, Any], idempotency_key: str | None = None) -> Ticket:
    """Admit the order (a 422 at once if it can never fit) and queue it; its ``future`` resolves
    once the batch that placed it is committed."""
    ticket = _ticket(p, actor, raw, idempotency_key)
    if not _fits_shape(p, ticket):
        _check_fresh(p, ticket)
    order_queue.check_high(p, actor, ticket.spec)  # QUEUE: priority high only where the operator allowed it
    order_loop.loop_for(p).submit(ticket)
    return ticket


def create_order(p: Platform, actor: Principal, raw: dict[str, Any], idempotency_key: str | None = None) -> OrderResult:
    """Place an order and wait for its result (blocks the calling thread; see :func:`place_order`)."""
    return order_loop.wait(p, submit_order(p, actor, raw, idempotency_key))


async def place_order(p: Platform, actor: Principal, raw: dict[str, Any],
                      idempotency_key: str | None = None) -> OrderResult:
    """:func:`create_order` for an event loop: the wait holds no thread (the HTTP route)."""
    ticket = _ticket(p, actor, raw, idempotency_key)
    if not _fits_shape(p, ticket):
        await asyncio.to_thread(_check_fresh, p, ticket)
    if ticket.spec.priority == "high":  # QUEUE: priority high only where the operator allowed it
        await asyncio.to_thread(order_queue.check_high, p, actor, ticket.spec)
    order_loop.loop_for(p).submit(ticket)
    return await order_loop.wait_async(p, ticket)


def granted_quote(actor: Principal, result: OrderResult) -> Quote | None:
    """The quote of the order's lease as built at its grant, if the actor may see it (as
    :func:`suanli.service.quotes.lease_quote` decides); ``None``: ask ``lease_quote``."""
    lease = result.order.lease_id
    if result.quote is None or lease is None:
        return None
    grant = authorize(actor, Action.READ_LEASES)
    if grant.lease_filter[1] is not None:  # a supplier: a tenant's price is not its to see
        return None
    grant.check_lease(lease)
    return result.quote


def list_orders(p: Platform, actor: Principal, offset: int = 0, limit: int = 50) -> list[OrderRecord]:
    tenant = authorize(actor, Action.READ_ORDERS).tenant_id
    with p.tx() as s:
        return store.list_orders(s, tenant_id=tenant, offset=offset, limit=limit)


def cancel_order(p: Platform, actor: Principal, order_id: str) -> OrderRecord:
    """Cancel a reservation that has not started (its lease becomes cancelled, devices freed)."""
    tenant = authorize(actor, Action.CANCEL_ORDER).tenant_id
    with p.tx() as s:
        order = store.get_order(s, order_id, tenant_id=tenant)
        if order.status == "queued":  # QUEUE: it waits; nothing is held
            order_queue.cancel_queued(p, s, actor, order)
            return store.get_order(s, order_id, tenant_id=tenant)
        if order.lease_id is None:
            raise ConflictError(f"order {order_id} has no lease to cancel")
        lease = advance(s, store.get_lease(s, order.lease_id, for_update=True), p.clock.now())  # as it is now
        if lease.form is ProductForm.RESERVATION:
            raise ConflictError(f"order {order_id} is the reservation of a price plan ({order.spec.get('plan')}); it is "
                                "cancelled by ending the plan (operator: `suanli plan end PLAN`)", lease=lease.id)
        if lease.state is LeaseState.ACTIVE:
            raise ConflictError(f"order {order_id}'s lease {lease.id} is active; end it with `suanli lease end {lease.id}`",
                                lease=lease.id)
        transition(s, lease, LeaseState.CANCELLED, p.clock.now(), "cancelled by " + actor.name)
        store.set_order_status(s, order_id, "cancelled", "cancelled by " + actor.name)
        return store.get_order(s, order_id, tenant_id=tenant)

"""Leases: list, show, end early, extend, and the moves time makes.

Reads never write (docs/platform.md "Reads never write"): a read shows each lease as it is now
(:func:`suanli.domain.leases.as_of`: a reservation whose start came is active, a term that is over
ended at its end) in a read-only transaction. The background pass (:func:`tick`) stores those moves
with their events; a write that acts on a lease first stores the moves due on that lease alone
(:func:`advance`), in its own transaction, and then decides on the lease as it is now."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.audit import SYSTEM
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import (
    LIVE_STATES,
    MAX_TERM,
    Lease,
    LeaseState,
    ProductForm,
    check_transition,
    due_moves,
    ended,
)
from suanli.errors import CapacityError, ConflictError, ValidationError
from suanli.service import audit_context, quotes, spend
from suanli.service.placement import snapshot
from suanli.service.platform import Platform
from suanli.store import leases as store
from suanli.store import placement_lock
from suanli.store import reservations as reservation_store
from suanli.store.leases import StaleClaim


def transition(s: Session, lease: Lease, to: LeaseState, at: datetime, reason: str, *, fresh: bool = False) -> None:
    """The one place lease state changes: checks the move, updates the window, records the event.
    ``fresh``: ``lease`` was read for update in this transaction (its audit record needs no read back)."""
    check_transition(lease.id, lease.state, to)
    values: dict[str, Any] = {"state": to, "reason": reason}
    if to is LeaseState.ACTIVE and lease.activated_at is None:
        values["activated_at"] = at
    if to in (LeaseState.ENDED, LeaseState.CANCELLED):
        values["ended_at"] = at
    if to not in LIVE_STATES:  # ended, cancelled, interrupted, suspended: the devices are given up now
        store.end_open_allocations(s, lease.id, at)
    store.update_lease(s, lease.id, known=lease if fresh else None, **values)
    store.add_event(s, lease.id, at, lease.state, to, reason)


def advance(s: Session, lease: Lease, now: datetime) -> Lease:
    """Store the moves due on ``lease`` at ``now`` (:func:`suanli.domain.leases.due_moves`), each at
    its own instant with its event, as the platform's (``system`` in the audit trail); returns the
    lease as stored after them. Call with the lease read ``for_update`` in the writing transaction."""
    moves = due_moves(lease, now)
    if not moves:
        return lease
    with audit_context.system():
        for m in moves:
            transition(s, lease, m.to, m.at, m.reason)
            lease = store.get_lease(s, lease.id)
    return lease


def tick(p: Platform) -> int:
    """The background pass's part: store the moves due on every lease (reservations whose time has
    come, terms that are over). Returns the moves made. Never called by a read."""
    now = p.clock.now()
    moved = 0
    with audit_context.system(), p.tx() as s:
        for lease_id, _state in store.leases_due(s, now):
            lease = store.get_lease(s, lease_id, for_update=True)
            moved += len(due_moves(lease, now))
            advance(s, lease, now)
    return moved


def list_leases(p: Platform, actor: Principal, *, state: str | None = None, offset: int = 0, limit: int = 50
                ) -> list[Lease]:
    """The tenant's leases, the leases on the supplier's nodes (their devices there only), or all."""
    grant = authorize(actor, Action.READ_LEASES)
    tenant_id, supplier = grant.lease_filter
    states = None
    if state:
        try:
            states = [LeaseState(state)]
        except ValueError:
            raise ValidationError(f"state {state!r} not allowed; allowed: {', '.join(x.value for x in LeaseState)}") from None
    now = p.clock.now()
    with p.read() as s:
        leases = store.list_leases(s, tenant_id=tenant_id, states=states, supplier=supplier, offset=offset,
                                   limit=limit, lease_id=grant.lease_only, now=now)
    return [grant.lease_view(x) for x in leases]


def get_lease(p: Platform, actor: Principal, lease_id: str) -> tuple[Lease, list[dict[str, Any]]]:
    """One lease and its events, as :func:`list_leases` shows it (another's answers 404). A supplier
    sees who caused an event only when it was the platform (``system``): never a tenant's account, and
    no reason (a tenant's own words, the placement reasoning that names nodes)."""
    grant = authorize(actor, Action.READ_LEASES)
    tenant_id, supplier = grant.lease_filter
    grant.check_lease(lease_id)
    now = p.clock.now()
    with p.read() as s:
        lease = store.get_lease(s, lease_id, tenant_id=tenant_id, supplier=supplier, now=now)
        events = store.lease_events(s, lease_id, now=now)
    if supplier is not None:  # occupancy: states and times; no reasons (a tenant's words, placement reasoning)
        events = [e | {"actor": e["actor"] if e["actor"] == SYSTEM.name else "hidden", "reason": ""} for e in events]
    return grant.lease_view(lease), events


def _not_a_reservation(lease: Lease) -> None:
    if lease.form is ProductForm.RESERVATION:
        raise ConflictError(f"lease {lease.id} holds the devices of a price plan; it ends with the plan (operator: "
                            "`suanli plan end PLAN`)", lease=lease.id)


def end_lease(p: Platform, actor: Principal, lease_id: str, reason: str = "") -> Lease:
    grant = authorize(actor, Action.CHANGE_LEASE)
    now = p.clock.now()
    with p.tx() as s:
        lease = advance(s, store.get_lease(s, lease_id, tenant_id=grant.tenant_id, for_update=True), now)
        _not_a_reservation(lease)
        if lease.state is LeaseState.SCHEDULED:
            raise ConflictError(f"lease {lease_id} has not started; cancel its order {lease.order_id} instead",
                                lease=lease_id, order=lease.order_id)
        reason = reason or f"ended by {actor.name}"
        transition(s, lease, LeaseState.ENDED, now, reason, fresh=True)
        return ended(lease, now, reason)  # as stored now, without reading it back (docs/performance.md)


def extend_lease(p: Platform, actor: Principal, lease_id: str, *, hours: Decimal | int | None = None,
                 end: datetime | None = None) -> Lease:
    """Move a fixed-term lease's end later, if the same devices are free for the added time."""
    grant = authorize(actor, Action.CHANGE_LEASE)
    if (hours is None) == (end is None):
        raise ValidationError("give exactly one of hours (to add) or end (the new end)")
    for _ in range(30):
        try:
            with p.tx() as s:
                placement_lock.lock_placement(s)  # queue with the order loop's batches (service.order_loop)
                limit = spend.lock_spender(s, actor)  # a member's row first, as an order takes it
                lease = advance(s, store.get_lease(s, lease_id, tenant_id=grant.tenant_id, for_update=True),
                                p.clock.now())
                _not_a_reservation(lease)
                if lease.state not in LIVE_STATES:
                    raise ConflictError(f"lease {lease_id} is {lease.state.value}; only scheduled or active leases "
                                        "can be extended", lease=lease_id)
                if lease.end is None:
                    raise ConflictError(f"lease {lease_id} is open-ended; there is no end to extend", lease=lease_id)
                if hours is not None:
                    if isinstance(hours, bool) or not isinstance(hours, int | Decimal) or hours <= 0:
                        raise ValidationError(f"hours must be a number > 0, got {hours!r}", field="hours")
                    new_end = lease.end + timedelta(seconds=int(Decimal(hours) * 3600))
                else:
                    assert end is not None
                    new_end = end
                if new_end <= lease.end:
                    raise ValidationError(f"new end {new_end.isoformat()} must be after the current end "
                                          f"{lease.end.isoformat()}", field="end")
                if new_end - lease.start > MAX_TERM:
                    raise ValidationError(f"term longer than {MAX_TERM.days} days is not allowed", field="end")
                snap = snapshot(p, s, lease.end, new_end, exclude_lease=lease.id)
                free = {d.id: 0 for d in snap.devices}
                for (node, slot), dev in snap.slot_device.items():
                    free[dev.id] = int(snap.state.dev_free_milli[node, slot])
                current = [a for a in lease.allocations if a.end == lease.end]
                drawn_on = {a.drawn_from for a in current}
                if current and len(drawn_on) == 1 and None not in drawn_on:  # on a term's reservation: stay on it
                    res = store.get_lease(s, str(drawn_on.pop()), now=p.clock.now())
                    if res.state not in LIVE_STATES or (res.end is not None and res.end < new_end):
                        raise CapacityError(f"cannot extend lease {lease_id} to {new_end.isoformat()}: it lies on "
                                            f"reservation {res.id}, which holds its devices until "
                                            f"{res.end.isoformat() if res.end else res.state.value}; order again "
                                            "for the time after", lease=lease_id, reservation=res.id)
                    free = reservation_store.free_on(s, res.id, lease.end, new_end)  # read after the versions
                short = [a for a in current if free.get(a.device_id, 0) < a.milli]
                if short:
                    names = ", ".join(f"{a.node}/{a.slot}" for a in short)
                    raise CapacityError(f"cannot extend lease {lease_id} to {new_end.isoformat()}: devices {names} "
                                        "are taken or unavailable in the added time", lease=lease_id)
                store.claim_devices(s, snap.versions([(a.device_id, a.milli, 0) for a in current]))
                before = spend.quote_before_extension(p, s, actor, lease)
                store.update_lease(s, lease.id, end=new_end)
                store.move_allocation_end(s, lease.id, lease.end, new_end)
                quotes.record_extension_quote(p, s, lease.id, lease.end, p.clock.now())  # the added time's price
                spend.record_extension(p, s, actor, before, lease.id, limit)  # a member's limit (refused: rollback)
                store.add_event(s, lease.id, p.clock.now(), lease.state, lease.state,
                                f"extended to {new_end.isoformat()}")
                return store.get_lease(s, lease_id)
        except StaleClaim:
            continue
    raise ConflictError("too many concurrent changes on the lease's devices; retry")

"""Node failures: mark nodes down from the engine's health, interrupt the leases on them,
re-place those leases on healthy capacity, and credit the tenant for the lost time.

SLA credit rule (docs/platform.md): from the interruption to the re-placement the tenant is not
billed (the old allocations end at the interruption, the new ones start at the re-placement),
and it is credited ``max(lost seconds, sla_min_credit_seconds) × the lease's hourly price ÷ 3600``,
rounded once like an invoice line, because the work in flight was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from suanli.domain.fleet import NodeState
from suanli.domain.leases import PAUSED_STATES, Lease, LeaseState, ProductForm
from suanli.domain.money import SECONDS_PER_HOUR, round_line
from suanli.drivers.base import NodeState as EngineNodeState
from suanli.errors import NotFoundError, SuanliError
from suanli.ledger.plans import PlanKind, plan_at
from suanli.ledger.quotes import rate_at as quoted_rate_at
from suanli.service import quotes, reservations, shapes, slice_mixing, slicing, term_credits
from suanli.service.engine import reconcile_leases
from suanli.service.leases import transition
from suanli.service.placement import Plan, snapshot
from suanli.service.plan_rows import plan_from_row
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import billing as billing_store
from suanli.store import engine as engine_store
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store import price_corrections as correction_store
from suanli.store import reservations as reservation_store
from suanli.store import shapes as shapes_store
from suanli.store.leases import StaleClaim

ENGINE_REASON = "engine: "


@dataclass
class HealthReport:
    nodes_down: list[str] = field(default_factory=list)
    nodes_restored: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    still_interrupted: list[str] = field(default_factory=list)
    error: str | None = None


def check_health(p: Platform) -> HealthReport:
    """One pass: engine health -> node states -> interrupt -> release on the engine -> re-place."""
    report = HealthReport()
    driver = p.driver
    if driver is None:
        return report
    try:
        health = driver.node_health()  # engine I/O, outside any transaction
    except SuanliError as e:
        report.error = e.message  # leases stay as they are; the next pass retries
        return report
    now = p.clock.now()
    with p.tx() as s:
        known = {n.name: n for n in fleet_store.list_nodes(s)}
        reasons = fleet_store.node_state_reasons(s)
        down: set[str] = set()
        for h in health:
            node = known.get(h.node)
            if node is None:
                continue
            if h.state in (EngineNodeState.DOWN, EngineNodeState.DRAIN) or h.failed_devices:
                what = h.reason or h.state.value
                if h.failed_devices and h.state is EngineNodeState.UP:
                    what = f"devices {list(h.failed_devices)} failed: {h.reason or 'no reason given'}"
                down.add(h.node)
                if node.state is NodeState.AVAILABLE:
                    fleet_store.set_node_state(s, h.node, NodeState.DOWN, ENGINE_REASON + what)
                    reasons[h.node] = ENGINE_REASON + what
                    report.nodes_down.append(h.node)
            elif node.state is NodeState.DOWN and reasons.get(h.node, "").startswith(ENGINE_REASON):
                fleet_store.set_node_state(s, h.node, NodeState.AVAILABLE, "")
                report.nodes_restored.append(h.node)
        down |= {n.name for n in known.values() if n.state is NodeState.DOWN}
        for lease in lease_store.list_leases(s, states=[LeaseState.ACTIVE, LeaseState.SCHEDULED]):
            hit = sorted({a.node for a in lease.allocations if a.node in down and (a.end is None or a.end > now)})
            if lease.form is ProductForm.CPU:  # SHAPES: a CPU-only instance holds no device, only host resources
                hit = sorted(shapes_store.nodes_held(s, lease.id, now) & down)
            if hit:
                _interrupt(p, s, lease, now, f"node {', '.join(hit)} failed: "
                           + "; ".join(reasons.get(n, "") or "down" for n in hit))
                report.interrupted.append(lease.id)
    if report.interrupted:
        reconcile_leases(p, force=True)  # releases the interrupted leases on the engine
    replace_interrupted(p, report)
    return report


def _interrupt(p: Platform, s: Session, lease: Lease, now: datetime, reason: str) -> None:
    transition(s, lease, LeaseState.INTERRUPTED, now, reason)  # gives up the devices at this second
    if is_spot(s, lease, now):
        transition(s, lease_store.get_lease(s, lease.id), LeaseState.ENDED, now,
                   "spot lease ended by the interruption (spot leases are not re-placed)")
        return
    # a lease scheduled for later lost nothing; a term's reservation is paid by its fee (the leases
    # drawn on it are interrupted and credited themselves)
    if lease.state is LeaseState.ACTIVE and lease.form is not ProductForm.RESERVATION:
        engine_store.add_sla_credit(s, lease_id=lease.id, tenant_id=lease.tenant_id, start=now, reason=reason,
                                    currency=p.settings.currency, now=now)


def is_spot(s: Session, lease: Lease, at: datetime) -> bool:
    """Is the lease priced under a spot plan (its order's plan, else its tenant's contract)?"""
    plans = [plan_from_row(r) for r in billing_store.plans_for(s, [lease.tenant_id])]
    plan_now = plan_at(plans, lease.tenant_id, lease.order_id, at)
    return plan_now is not None and plan_now.kind is PlanKind.SPOT


def replace_interrupted(p: Platform, report: HealthReport | None = None) -> HealthReport:
    """Try to put every interrupted lease back on healthy devices for the rest of its term."""
    report = report or HealthReport()
    now = p.clock.now()
    with p.tx() as s:
        paused = lease_store.list_leases(s, states=[LeaseState.INTERRUPTED])
        # reservations first: the leases drawn on them go back onto them
        ids = [x.id for x in sorted(paused, key=lambda x: x.form is not ProductForm.RESERVATION)]
    for lease_id in ids:
        for _ in range(10):
            try:
                with p.tx() as s:
                    outcome = replace_lease(p, s, lease_id, now, "re-placed after interruption")
                break
            except StaleClaim:
                continue
        else:
            outcome = "paused"
        (report.replaced if outcome == "replaced" else report.still_interrupted).append(lease_id)
    if report.replaced:
        reconcile_leases(p, force=True)  # provision the re-placed leases
    return report


def replace_lease(p: Platform, s: Session, lease_id: str, now: datetime, why: str) -> str:
    """Bring an interrupted or suspended lease back for the rest of its term: on the devices it gave
    up if they are still free, else wherever the placement engine finds room for its order.
    Returns ``replaced``, ``ended`` (its term is over), ``paused`` (no room yet) or ``moved``.
    Raises StaleClaim when a concurrent grant took a planned device (the caller retries)."""
    if lease_store.get_lease(s, lease_id).form is ProductForm.RESERVATION:
        # its term fee may be credited here: the price-book lock before the lease row, as end_plan takes them
        correction_store.lock_price_book(s, exclusive=True)
    lease = lease_store.get_lease(s, lease_id, for_update=True)
    if lease.state not in PAUSED_STATES:
        return "moved"
    lost = [a for a in lease.allocations if a.end is not None]
    if lease.end is not None and lease.end <= now:
        transition(s, lease, LeaseState.ENDED, now, f"term ended while {lease.state.value}")
        _close_credit(p, s, lease, now, lost)
        return "ended"
    start = max(now, lease.start)
    snap = snapshot(p, s, start, lease.end, exclude_lease=lease.id)
    previous = lease.last_allocations()
    mig = slicing.held_instances(s, lease)  # SLICES: a MIG slice comes back at its placement, or is placed anew
    free = {dev.id: int(snap.state.dev_free_milli[node, slot]) for (node, slot), dev in snap.slot_device.items()}
    if (previous and all(free.get(a.device_id, 0) >= a.milli for a in previous)
            and slicing.still_free(snap.mig_taken, mig)
            and snap.mixing.fits_again(s, lease.id, (a.device_id for a in previous))):  # MIXING: docs/slices.md
        grants: tuple[tuple[int, int, int], ...] = tuple((a.device_id, a.milli, a.memory_mib) for a in previous)
        where, drawn_from = "on the same devices", None
        placed = Plan(grants, where)
    else:
        order = lease_store.get_order(s, lease.order_id, tenant_id=None)
        outcome, drawn_from = reservations.place_again(p, s, lease, order.spec, snap, start, now)
        if not isinstance(outcome, Plan):
            return "paused"
        grants, where, placed = outcome.grants, outcome.reason, outcome
        mig = []
    lease_store.claim_devices(s, snap.versions(grants))
    granted = max(now, p.clock.now())  # the grant instant: read after the claim, in this attempt
    start = max(granted, lease.start)
    if lease.end is not None and lease.end <= start:
        transition(s, lease, LeaseState.ENDED, granted, f"term ended while {lease.state.value}")
        _close_credit(p, s, lease, granted, lost)
        return "ended"
    if drawn_from is None:  # SHAPES: its host resources, checked with its allocations' flush
        shapes.stage_holds(s, snap, lease.id, lease_store.get_order(s, lease.order_id, tenant_id=None).spec, placed,
                           start, lease.end)
    slice_mixing.relabel(s, lease.id, placed.slice)  # MIXING: placed anew under another mechanism: it says so
    lease_store.insert_allocations(s, lease.id, grants, start, lease.end, drawn_from=drawn_from)
    slicing.record_again(s, lease.id, placed.slice, mig)
    quotes.record_replacement_quote(p, s, lease.id)  # a quoted lease keeps its price wherever it lands
    transition(s, lease, LeaseState.ACTIVE if start <= granted else LeaseState.SCHEDULED, granted,
               f"{why}: {where}")
    _close_credit(p, s, lease, granted, lost)
    return "replaced"


def _close_credit(p: Platform, s: Session, lease: Lease, now: datetime, lost: list) -> None:  # type: ignore[type-arg]
    if lease.form is ProductForm.RESERVATION:  # back or over: the term fee is credited for the time without devices
        plan_id = lease_store.get_order(s, lease.order_id, tenant_id=None).spec.get("plan")
        try:
            plan = plan_from_row(reservation_store.get_plan_row(s, str(plan_id)))
        except NotFoundError:  # a plan cancelled before it started: it billed nothing
            return
        term_credits.credit_unheld(p, s, plan, now, f"reservation {lease.id} had no devices after a failure")
        return
    book = price_book(p, s)
    row = next((c for c in engine_store.sla_credits(s, lease_id=lease.id) if c.end is None), None)
    if row is None:
        return
    hourly = Decimal(0)
    quoted = quotes.billing_rates(s, [lease.id])  # a lease bound by its quote: the hour it pays
    for a in lost:
        if a.end == row.start:
            q = quoted.get((lease.id, a.model, a.site))
            rate = quoted_rate_at(q, row.start)[0] if q else book.rate_at(a.model, a.site, row.start)
            hourly += a.share * (rate or Decimal(0))
    seconds = max(int((now - row.start).total_seconds()), p.settings.sla_min_credit_seconds)
    engine_store.close_sla_credit(s, lease.id, now, round_line(seconds * hourly / SECONDS_PER_HOUR, row.currency))

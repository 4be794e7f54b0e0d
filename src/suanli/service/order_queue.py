"""The order queue (docs/queue.md): orders that did not fit wait, with a deadline, and are placed
when capacity frees, fairly.

One pass (:func:`run_queue`; the background pass runs it on the leader, and ending a lease runs it
at once) does, in ONE transaction under the placement lock:

1. **Spot preemptions due**: a spot lease whose notice ran out is ended at its ``preempt_at``
   (never billed after it; its allocations close there).
2. **Deadlines**: a waiting order whose ``wait_until`` has passed is rejected with reason
   "deadline passed" (a rejected lease records the event the tenant sees, as any rejection).
3. **Placement** in the order of service (:func:`suanli.domain.queueing.next_up`: class, weighted
   fair share re-ranked after each grant, arrival), each order through the SAME code as a live
   order (:func:`suanli.service.order_loop.attempt_now` in a SAVEPOINT: exclusivity, quotes,
   spend limits, idempotency, granted time = the instant of the claim in this transaction).
   The first order that does not fit is the **head**: its earliest start ``T`` is taken from the
   calendar (:mod:`suanli.service.when`). Later orders **backfill**: each is placed tentatively and
   kept only if the head still fits at ``T`` (checked on the database with the grant written, so
   by construction it cannot delay the head); else its SAVEPOINT is rolled back.
4. **Spot notice**: when the head is an on-demand order (its tenant is not on a spot plan) and
   ending some spot leases would let it fit now, those leases get notice: a lease event and a
   ``spot_preemptions`` row with ``preempt_at = now + settings.spot_notice_seconds``.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import LeaseState, OrderSpec, ProductForm, parse_order
from suanli.domain.queueing import (
    DEADLINE_REASON,
    Hold,
    Priority,
    QueuedOrder,
    When,
    check_priority,
    next_up,
    parse_weight,
)
from suanli.errors import ConflictError, NotFoundError, SuanliError, ValidationError
from suanli.ledger.plans import PlanKind, plan_at
from suanli.service import audit_context, queue_admission, quotes, when
from suanli.service.health import is_spot
from suanli.service.leases import transition
from suanli.service.order_loop import OrderResult, Ticket, _Batch, attempt_now
from suanli.service.placement import Plan, plan, snapshot
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import leases as lease_store
from suanli.store import order_batch, placement_lock
from suanli.store import queue as queue_store
from suanli.store.leases import OrderRecord, StaleClaim

log = logging.getLogger("suanli.queue")
ATTEMPTS = 3


@dataclass
class QueueReport:
    granted: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    preempted: list[str] = field(default_factory=list)
    noticed: list[str] = field(default_factory=list)
    backfilled: list[str] = field(default_factory=list)
    head: str | None = None
    head_start: datetime | None = None

    def summary(self) -> dict[str, Any]:
        return {"granted": self.granted, "expired": self.expired, "preempted": self.preempted,
                "noticed": self.noticed, "backfilled": self.backfilled, "head": self.head,
                "head_start": None if self.head_start is None else self.head_start.isoformat()}


def _ticket(s: Session, q: QueuedOrder, now: datetime) -> Ticket:
    raw = when.raw_of(q)
    raw["wait_until"], raw["priority"] = q.wait_until, q.priority.value  # a refusal keeps it waiting
    spec = parse_order(raw, now=now)
    actor = queue_store.account_principal(s, q.account_id)
    return Ticket(actor, spec, dict(q.spec), q.idempotency_key, q.queued_at, contextvars.copy_context(),
                  queued=q.order_id)


def _try(p: Platform, s: Session, t: Ticket, b: _Batch) -> OrderResult | SuanliError:
    """Place one queued order in a SAVEPOINT (the loop's retry rules); an OrderResult whose order is
    ``queued`` when it still does not fit."""
    for _attempt in range(ATTEMPTS):
        try:
            with s.begin_nested():
                out = attempt_now(p, s, t, b)
        except StaleClaim:
            b.snaps.clear()
            continue
        except SuanliError as e:
            b.snaps.clear()
            return e
        except Exception as e:
            b.snaps.clear()
            if placement_lock.is_lost_race(e):
                continue
            raise
        if isinstance(out, OrderResult):
            return out
        return out[0]
    return ConflictError("the order's devices kept changing hands while it was placed")


def _milli(s: Session, lease_id: str | None) -> int:
    if lease_id is None:
        return 0
    return sum(a.milli for a in lease_store.get_lease(s, lease_id).allocations if a.end is None)


def _reject(p: Platform, s: Session, q: QueuedOrder, at: datetime, reason: str) -> None:
    """The order leaves the queue rejected: a rejected lease records the event (as any rejection)."""
    rows = order_batch.GrantRows(
        order_id=q.order_id, tenant_id=q.tenant_id, key=q.idempotency_key, form=_form(q), spec=dict(q.spec),
        order_start=q.queued_at, end=None, status="rejected", reason=reason, arrival=q.queued_at, ordered_by=None,
        committed=None, lease_id="ls_" + q.order_id.removeprefix("ord_") + "q", state=LeaseState.REJECTED,
        lease_start=at, activated_at=None, lease_reason=reason, commission_rate=Decimal(p.settings.commission_rate),
        placement="", now=at, grants=(), drawn_from=None, queued=True)
    order_batch.insert_order_rows(s, rows)
    queue_store.close(s, q.order_id, "expired", at)


def _form(q: QueuedOrder) -> ProductForm:
    return ProductForm(q.form)


def run_queue(p: Platform) -> QueueReport:
    """One pass of the queue (see the module's docstring)."""
    report = QueueReport()
    now = p.clock.now()
    with audit_context.system(), p.tx() as s:
        if not queue_store.has_work(s):  # the usual pass: no wait behind the order batches' placement lock
            queue_admission.set_head(p, None)
            return report
        placement_lock.lock_placement(s)
        _end_preempted(p, s, now, report)
        waiting = queue_store.queued_orders(s, for_update=True)
        if not waiting:
            queue_admission.set_head(p, None)
            return report
        alive: list[QueuedOrder] = []
        for q in waiting:
            if q.wait_until <= now:
                _reject(p, s, q, q.wait_until, f"{DEADLINE_REASON}: waited until {q.wait_until.isoformat()} "
                                                "and no capacity freed for it")
                report.expired.append(q.order_id)
            else:
                alive.append(q)
        _place(p, s, alive, now, report)
    return report


def _place(p: Platform, s: Session, alive: list[QueuedOrder], now: datetime, report: QueueReport) -> None:
    used = queue_store.used_milli(s, now)
    weights = queue_store.weights(s)
    tenants = {q.tenant_id for q in alive}
    b = _Batch({}, {}, order_batch.tenants_with_reservations(s, tenants), quotes.tenants_plans(s, tenants))
    head: tuple[QueuedOrder, Ticket] | None = None
    head_start: datetime | None = None
    queue_admission.set_head(p, None)
    remaining = list(alive)
    while remaining:
        q = next_up(remaining, used, weights)
        assert q is not None
        remaining.remove(q)
        try:
            t = _ticket(s, q, now)
        except ValidationError as e:  # e.g. its fixed end has passed
            _reject(p, s, q, now, f"no longer valid: {e.message}")
            report.expired.append(q.order_id)
            continue
        if head is None:
            out = _try(p, s, t, b)
            if isinstance(out, SuanliError):
                _reject(p, s, q, now, f"rejected: {out.message}")
                report.expired.append(q.order_id)
                continue
            if out.order.status == "queued":
                head = (q, t)
                head_start, _ = when.earliest(p, s, t.spec, now, q.order_id)
                report.head, report.head_start = q.order_id, head_start
                if head_start is not None:  # live orders may not delay it either (queue_admission.behind_head)
                    queue_admission.set_head(p, queue_admission.Head(q.order_id, t.spec, head_start,
                                                                     when.term(t.spec, now), q.priority.rank))
                continue
            _granted(s, q, out, used, report, p.clock.now())
            continue
        _backfill(p, s, q, t, b, head[1], head_start, when.term(head[1].spec, now), used, report)
    if head is not None:
        _notice_spot(p, s, head[0], head[1], now, report)


def _granted(s: Session, q: QueuedOrder, out: OrderResult, used: dict[str, int], report: QueueReport,
             at: datetime) -> None:
    queue_store.close(s, q.order_id, "granted", at)
    used[q.tenant_id] = used.get(q.tenant_id, 0) + _milli(s, out.order.lease_id)
    report.granted.append(q.order_id)


def _backfill(p: Platform, s: Session, q: QueuedOrder, t: Ticket, b: _Batch, head: Ticket,
              head_start: datetime | None, dur: timedelta | None, used: dict[str, int], report: QueueReport) -> None:
    """Place ``q`` only if the head still fits at its earliest start with ``q``'s grant written."""
    sp = s.begin_nested()
    out = _try(p, s, t, b)
    if isinstance(out, SuanliError) or out.order.status == "queued":
        sp.rollback()
        b.snaps.clear()
        return
    if head_start is not None:
        still = when._fits_at(p, s, head.spec, head_start, dur, head.queued or "head", (),
                              when.preempted_holds(s, head_start))
        if still is None:
            sp.rollback()
            b.snaps.clear()
            return
    sp.commit()
    _granted(s, q, out, used, report, p.clock.now())
    report.backfilled.append(q.order_id)


# ------------------------------------------------------------------------------------------ spot
def _end_preempted(p: Platform, s: Session, now: datetime, report: QueueReport) -> None:
    for pr in queue_store.preemptions(s):
        if pr.preempt_at > now:
            continue
        lease = lease_store.get_lease(s, pr.lease_id, for_update=True)
        if lease.state is LeaseState.ACTIVE:
            transition(s, lease, LeaseState.ENDED, pr.preempt_at,
                       f"preempted: spot lease ended for queued on-demand order {pr.for_order} "
                       f"(notice given at {pr.noticed_at.isoformat()})")
            report.preempted.append(lease.id)
        queue_store.preemption_done(s, pr.lease_id)


def _notice_spot(p: Platform, s: Session, q: QueuedOrder, t: Ticket, now: datetime, report: QueueReport) -> None:
    """Give notice to the fewest spot leases (youngest first) whose end lets the head fit now."""
    if any(pr.for_order == q.order_id for pr in queue_store.preemptions(s)):
        return  # notice already given for it
    head_lease = _head_is_spot(s, q, now)
    if head_lease:
        return
    noticed = {pr.lease_id for pr in queue_store.preemptions(s)}
    spot = [x for x in lease_store.list_leases(s, states=[LeaseState.ACTIVE])
            if x.id not in noticed and x.tenant_id != q.tenant_id and is_spot(s, x, now)]
    if not spot:
        return
    spot.sort(key=lambda x: (x.activated_at or x.start), reverse=True)
    chosen: list[str] = []
    for lease in spot:
        chosen.append(lease.id)
        if _fits_without(p, s, t.spec, now, chosen, q.order_id):
            break
    else:
        return
    at = now + _notice(p)
    for lease_id in chosen:
        queue_store.add_preemption(s, lease_id, q.order_id, now, at)
        lease_store.add_event(s, lease_id, now, LeaseState.ACTIVE, LeaseState.ACTIVE,
                              f"preemption notice: this spot lease ends at {at.isoformat()} for queued on-demand "
                              f"order {q.order_id}")
        report.noticed.append(lease_id)


def _notice(p: Platform) -> timedelta:
    return timedelta(seconds=p.settings.spot_notice_seconds)


def _head_is_spot(s: Session, q: QueuedOrder, now: datetime) -> bool:
    plans = quotes.tenants_plans(s, [q.tenant_id])[q.tenant_id]
    current = plan_at(plans, q.tenant_id, q.order_id, now)
    return current is not None and current.kind is PlanKind.SPOT


def _fits_without(p: Platform, s: Session, spec: OrderSpec, now: datetime, leases: list[str], seed: str) -> bool:
    snap = snapshot(p, s, now, None if spec.end is None else spec.end)
    when.adjust(snap, queue_store.lease_holds(s, leases, now), ())
    return isinstance(plan(p, snap, spec, seed=seed), Plan)


# ------------------------------------------------------------------------------------------ reads, cancel, weights
@dataclass(frozen=True)
class QueueEntry:
    order: QueuedOrder
    position: int
    """1 = served next (class, fair share, arrival as the next pass ranks them)."""
    tenant: str
    estimated_start: datetime | None
    preempting: tuple[str, ...] = ()


def list_queue(p: Platform, actor: Principal, *, estimate: bool = True) -> list[QueueEntry]:
    """The waiting orders in their order of service (a tenant: its own, with their positions in the
    whole queue; the operator: all), each with its estimated start from the calendar."""
    grant = authorize(actor, Action.READ_ORDERS)
    now = p.clock.now()
    with p.read() as s:
        waiting = [q for q in queue_store.queued_orders(s) if q.wait_until > now]
        used = queue_store.used_milli(s, now)
        weights = queue_store.weights(s)
        ordered: list[QueuedOrder] = []
        rest = list(waiting)
        while rest:
            q = next_up(rest, used, weights)
            assert q is not None
            rest.remove(q)
            ordered.append(q)
        names = {a.account_id: a.name for a in account_store.list_accounts(s)} if ordered else {}
        pre = queue_store.preemptions(s)
        holds: list[Hold] = []
        out: list[QueueEntry] = []
        for i, q in enumerate(ordered):
            start = None
            if estimate and i < when.MAX_AHEAD_ORDERS:
                spec = when.spec_of(q, now)
                start, plan_out = when.earliest(p, s, spec, now, q.order_id, holds)
                if start is not None and plan_out is not None:
                    holds += when.holds_of(plan_out, start, when.term(spec, now))
            if grant.tenant_id is None or q.tenant_id == grant.tenant_id:
                out.append(QueueEntry(q, i + 1, names.get(q.tenant_id, q.tenant_id), start,
                                      tuple(x.lease_id for x in pre if x.for_order == q.order_id)))
        return out


def describe(p: Platform, actor: Principal, order_id: str) -> QueueEntry | None:
    """The queue entry of one waiting order (position, estimated start), if it waits."""
    for e in list_queue(p, actor):
        if e.order.order_id == order_id:
            return e
    return None


def cancel_queued(p: Platform, s: Session, actor: Principal, order: OrderRecord) -> None:
    """Called by :func:`suanli.service.orders.cancel_order` for an order that waits."""
    now = p.clock.now()
    if queue_store.queue_state(s, order.id) != "waiting":
        raise ConflictError(f"order {order.id} no longer waits in the queue", order=order.id)
    queue_store.close(s, order.id, "cancelled", now)
    head = queue_admission.current_head(p)
    if head is not None and head.order_id == order.id:
        queue_admission.set_head(p, None)
    lease_store.set_order_status(s, order.id, "cancelled", "cancelled in the queue by " + actor.name)


def preempt_at(p: Platform, actor: Principal, lease_id: str) -> datetime | None:
    """When a spot lease under notice ends (None: no notice pending); the caller has read the lease."""
    authorize(actor, Action.READ_LEASES)
    with p.read() as s:
        pr = queue_store.preemption_of(s, lease_id)
    return None if pr is None or pr.done else pr.preempt_at


def check_high(p: Platform, actor: Principal, spec: OrderSpec) -> None:
    """Priority ``high`` only for tenants the operator allowed (a 422 naming what is allowed)."""
    if spec.priority != "high":
        return
    with p.read() as s:
        allowed = queue_store.allows_high(s, actor.tenant_id)
    check_priority(Priority.HIGH, allowed_high=allowed, tenant=actor.tenant_name)


def set_weight(p: Platform, actor: Principal, tenant: str, weight: Any, allow_high: bool | None = None
               ) -> queue_store.Weight:
    """The operator sets a tenant's fair-share weight (default 1) and whether it may order ``high``."""
    authorize(actor, Action.SET_QUEUE_WEIGHT)
    w = parse_weight(weight)
    with p.tx() as s:
        account = account_store.get_account(s, tenant)
        if account.role is not Role.TENANT:
            raise NotFoundError(f"no tenant account {tenant!r}", tenant=tenant)
        current = {x.tenant_id: x for x in queue_store.list_weights(s)}.get(account.account_id)
        high = allow_high if allow_high is not None else (current.allow_high if current else False)
        queue_store.set_weight(s, account.account_id, w, high, actor.account_id, p.clock.now())
        return next(x for x in queue_store.list_weights(s) if x.tenant_id == account.account_id)


def list_weights(p: Platform, actor: Principal) -> list[queue_store.Weight]:
    authorize(actor, Action.SET_QUEUE_WEIGHT)
    with p.read() as s:
        return queue_store.list_weights(s)


def when_order(p: Platform, actor: Principal, raw: dict[str, Any]) -> When:
    return when.when(p, actor, raw)


def kick(p: Platform) -> QueueReport | None:
    """Run a queue pass now if any order waits (called when capacity frees: a lease ended)."""
    with p.read() as s:
        if not queue_store.queued_orders(s):
            return None
    try:
        return run_queue(p)
    except SuanliError as e:  # the background pass tries again
        log.warning("queue pass after a lease end failed: %s", e.message)
        return None

"""Defragmentation in the server: plans of moves of migratable leases, approval, notice, the moves.

- :func:`propose` reads the fleet as it is now (:func:`suanli.service.placement.snapshot`), the live
  migratable leases (``gpu`` leases and guaranteed, non-MIG slices on one node) and the targets: the
  orders waiting in the queue (:func:`suanli.store.queue.queued_orders`) that ask for whole devices
  (``gpu`` with quantity ≥ 2, ``server``, ``cluster``), plus any shapes the operator names; it runs
  the pure planner (:func:`suanli.scheduler.defrag.plan_defrag`, the simulator's) and stores the plan
  ``proposed`` with its moves (each: the lease, its devices now, where it goes, what it frees).
- :func:`approve` (operator, or the background pass when ``auto`` is on) makes it ``approved`` then
  ``notified`` in one transaction: each moved lease gets a lease event with the deadline
  (``now + notice``), and its job finds the notice (docs/defrag.md "The job hook").
- :func:`tick` (background pass) moves every notified move whose deadline has come, one transaction
  each, by the path a re-placement takes: the lease's allocations (and host holds) end at the grant
  instant and the new ones start at that same instant, claimed against the devices' versions, so
  billing has neither a gap nor an overlap; a destination taken meanwhile makes the move ``failed``
  (the lease stays where it is). A plan is ``done`` when its moves are over.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain import defrag as dom
from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.defrag import DefragSettings, PlanState
from suanli.domain.leases import Lease, LeaseState, OrderSpec, ProductForm
from suanli.domain.quotes import Basis
from suanli.errors import ConflictError, SuanliError, ValidationError
from suanli.ledger.quotes import Quote
from suanli.scheduler import MILLI, Placement, PlacementRequest
from suanli.scheduler.defrag import DefragPlan, Movable, plan_defrag
from suanli.service import audit_context, shapes, slice_mixing, slicing
from suanli.service.engine import grant_for
from suanli.service.placement import Plan, Snapshot, _filters, snapshot
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import defrag as store
from suanli.store import engine as engine_store
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store import queue as queue_store
from suanli.store.leases import StaleClaim

AUTO_ACTOR = "defrag-auto"
log = logging.getLogger("suanli.defrag")


# ----------------------------------------------------------------------------------- settings
def get_settings(p: Platform, actor: Principal) -> DefragSettings:
    authorize(actor, Action.READ_DEFRAG)
    with p.tx() as s:
        return store.settings(s)


def set_settings(p: Platform, actor: Principal, raw: Mapping[str, Any]) -> DefragSettings:
    """A change of auto / notice / discount (validated whole first: nothing is written on a 422)."""
    authorize(actor, Action.SET_DEFRAG)
    with p.tx() as s:
        new = dom.parse_settings(dict(raw), store.settings(s))
        store.add_settings(s, new, actor.name, p.clock.now())
        return new


def settings_doc(st: DefragSettings) -> dict[str, Any]:
    return {"auto": st.auto, "notice_s": st.notice_s, "discount_pct": st.discount_pct}


# ----------------------------------------------------------------------------------- the lease class
def record_grant(s: Session, lease_id: str, spec: OrderSpec, at: datetime) -> Decimal | None:
    """At a migratable lease's first grant: its class with the discount and notice in force; returns
    the discount (None for a lease that is not migratable)."""
    if not spec.migratable:
        return None
    st = store.settings(s)
    store.mark_migratable(s, lease_id, st.discount_pct, st.notice_s, at)
    return st.discount_pct


def discount_now(s: Session, spec: OrderSpec) -> Decimal | None:
    """The migratable discount a quote of ``spec`` shows now (None: not migratable)."""
    return store.settings(s).discount_pct if spec.migratable else None


def discounted_share(share: Decimal, discount_pct: Decimal | None) -> Decimal:
    return share if not discount_pct else dom.discounted(share, discount_pct)


def mark_quote(quote: Quote, discount_pct: Decimal | None) -> Quote:
    """A migratable lease's quote: its list-price lines say ``migratable`` (their device count is the share
    less the discount), with a note that says what the discount is for."""
    if discount_pct is None:
        return quote
    lines = tuple(dataclasses.replace(ln, basis=Basis.MIGRATABLE) if ln.basis is Basis.LIST else ln
                  for ln in quote.lines)
    note = f"migratable: accepts moves with notice; priced {discount_pct.normalize():f} % lower"
    return dataclasses.replace(quote, lines=lines, note="; ".join(x for x in (note, quote.note) if x))


# ----------------------------------------------------------------------------------- the fleet
@dataclass
class _View:
    snap: Snapshot
    movables: list[Movable]
    leases: dict[str, Lease]
    where: dict[int, tuple[int, int]]
    """device id -> (node index, slot)"""


def _stored_spec(stored: Mapping[str, Any]) -> OrderSpec:
    """The filters of a stored order (models, sites …) without re-validating its window."""
    form = ProductForm(str(stored.get("form")))
    return OrderSpec(form=form, quantity=int(stored.get("quantity", 1) or 1),
                     models=tuple(stored.get("models") or ()), sites=tuple(stored.get("sites") or ()),
                     regions=tuple(stored.get("regions") or ()), vendors=tuple(stored.get("vendors") or ()),
                     min_memory_gib=int(stored.get("min_memory_gib", 0) or 0))


def _view(p: Platform, s: Session, now: datetime) -> _View:
    snap = snapshot(p, s, now, None)
    where = {d.id: (i, slot) for (i, slot), d in snap.slot_device.items()}
    ids = store.all_migratable(s)
    busy = store.leases_in_open_moves(s)
    leases: dict[str, Lease] = {}
    movables: list[Movable] = []
    mig_devices = set(snap.mig_taken)
    for lid in ids:
        if lid in busy:
            continue
        lease = lease_store.get_lease(s, lid)
        held = [a for a in lease.allocations if a.end is None or a.end > now]
        held = [a for a in held if a.start <= now]
        if lease.state is not LeaseState.ACTIVE or not held or lease.form not in (ProductForm.GPU, ProductForm.SLICE):
            continue
        if any(a.drawn_from or a.sold_milli is not None or a.device_id in mig_devices for a in held):
            continue  # drawn on a reservation, burstable or a MIG instance: not moved
        spots = [where.get(a.device_id) for a in held]
        if any(x is None for x in spots) or len({x[0] for x in spots if x}) != 1:
            continue
        node = spots[0][0]  # type: ignore[index]
        spec = _stored_spec(lease_store.get_order(s, lease.order_id, tenant_id=None).spec)
        models, sites = _filters(snap, spec)
        milli = held[0].milli
        cpu = int(snap.state.cpu_total_milli[node]) * sum(a.milli for a in held) // max(
            1, int(snap.state.n_devices[node]) * MILLI)
        req = PlacementRequest(cpu_milli=cpu, num_devices=len(held), device_milli=milli if len(held) == 1 else MILLI,
                               allowed_models=models, allowed_sites=sites)
        placement = Placement((node,), (tuple(x[1] for x in spots if x),), (tuple(a.milli for a in held),), (cpu,),
                              (0,), 0.0, f"lease {lid}")
        # the snapshot counts the lease as busy: its devices and CPU share are in use
        movables.append(Movable(lid, placement, req))
        leases[lid] = lease
    return _View(snap, movables, leases, where)


_TARGET_FORMS = {"gpu": "k whole devices on one node", "server": "whole nodes", "cluster": "whole nodes in one fabric"}


def _target_requests(snap: Snapshot, raw: Mapping[str, Any], label: str) -> list[tuple[PlacementRequest, str]]:
    form = str(raw.get("form", ""))
    if form not in _TARGET_FORMS:
        raise ValidationError(f"a defrag target is a gpu, server or cluster shape, not {form!r}; allowed: "
                              f"{', '.join(_TARGET_FORMS)}", field="form", allowed=list(_TARGET_FORMS))
    q = raw.get("quantity", 1)
    if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 64:
        raise ValidationError(f"quantity must be an integer between 1 and 64, got {q!r}", field="quantity")
    spec = _stored_spec({**raw, "form": form})
    models, sites = _filters(snap, spec)
    if form == "gpu":
        return [(PlacementRequest(cpu_milli=0, num_devices=q, allowed_models=models, allowed_sites=sites), label)]
    if form == "server":
        return [(PlacementRequest(whole_node=True, allowed_models=models, allowed_sites=sites), label)] * q
    return [(PlacementRequest(gang_nodes=q, allowed_models=models, allowed_sites=sites), label)]


def _queued_targets(s: Session, snap: Snapshot) -> list[tuple[PlacementRequest, str]]:
    out: list[tuple[PlacementRequest, str]] = []
    for q in queue_store.queued_orders(s):
        spec = q.spec
        form = str(spec.get("form"))
        if form not in _TARGET_FORMS or (form == "gpu" and int(spec.get("quantity", 1) or 1) < 2):
            continue
        try:
            out.extend(_target_requests(snap, {k: v for k, v in spec.items() if k in (
                "form", "quantity", "models", "sites", "regions", "vendors")}, f"queued order {q.order_id}"))
        except ValidationError:
            continue  # a queued order the fleet no longer knows how to hold: the queue will refuse it
    return out


# ----------------------------------------------------------------------------------- plans
def propose(p: Platform, actor: Principal, targets: Sequence[Mapping[str, Any]] = (), *, auto: bool = False
            ) -> store.PlanRecord | None:
    """Plan moves for the queued whole-device orders and ``targets`` (shapes the operator names);
    None when no move helps (nothing is written)."""
    authorize(actor, Action.SET_DEFRAG)
    return _propose(p, actor.name, targets, auto=auto)


def _propose(p: Platform, by: str, targets: Sequence[Mapping[str, Any]], *, auto: bool) -> store.PlanRecord | None:
    now = p.clock.now()
    with p.tx() as s:
        view = _view(p, s, now)
        wanted = [_target_requests(view.snap, t, f"shape {dict(t)}") for t in targets]
        reqs = [x for group in wanted for x in group] + _queued_targets(s, view.snap)
        if not reqs:
            raise ValidationError("nothing to plan for: no order waits for whole devices and no target shape was "
                                  "given (e.g. --gpus 8 --model H100)", field="targets")
        result = plan_defrag(view.snap.state, view.movables, [r for r, _ in reqs])
        if not result.helps:
            return None
        st = store.settings(s)
        plan_id = "dfg_" + secrets.token_hex(6)
        store.insert_plan(s, plan_id=plan_id, auto=auto, targets=_targets_doc(view, result, reqs),
                          summary=_summary(result), notice_s=st.notice_s, by=by, at=now,
                          moves=_moves_rows(view, result))
        return store.get_plan(s, plan_id)


def _frees(view: _View, result: DefragPlan, key: str) -> str:
    names = view.snap.state.node_ids
    for t in result.targets:
        if key in t.moves and t.placement is not None:
            return f"target {t.index + 1}: node(s) {', '.join(names[n] for n in t.placement.nodes)}"
    return ""


def _moves_rows(view: _View, result: DefragPlan) -> list[tuple[str, list[int], list[tuple[int, int, int]], str]]:
    rows = []
    for m in result.moves:
        lease = view.leases[m.key]
        held = [a for a in lease.allocations if a.end is None or a.end > view.snap.at]
        mem = {a.milli: a.memory_mib for a in held}
        grants = []
        for n, devs, mm in zip(m.new.nodes, m.new.devices, m.new.device_milli, strict=True):
            for d, milli in zip(devs, mm, strict=True):
                grants.append((view.snap.slot_device[(n, d)].id, milli, mem.get(milli, 0)))
        rows.append((m.key, [a.device_id for a in held], grants, _frees(view, result, m.key)))
    return rows


def _targets_doc(view: _View, result: DefragPlan, reqs: list[tuple[PlacementRequest, str]]) -> list[dict[str, Any]]:
    names = view.snap.state.node_ids
    return [{"target": reqs[t.index][1], "freed": t.freed and bool(t.moves), "moves": list(t.moves),
             "nodes": [names[n] for n in t.placement.nodes] if t.placement is not None else [], "reason": t.reason}
            for t in result.targets]


def _summary(result: DefragPlan) -> str:
    freed = sum(1 for t in result.targets if t.freed and t.moves)
    return (f"{len(result.moves)} move(s), {result.moved_gpu_milli / MILLI:g} GPU moved, free room for {freed} of "
            f"{len(result.targets)} waiting target(s)")


def list_plans(p: Platform, actor: Principal) -> list[store.PlanRecord]:
    authorize(actor, Action.READ_DEFRAG)
    with p.tx() as s:
        return store.list_plans(s)


def get_plan(p: Platform, actor: Principal, plan_id: str) -> store.PlanRecord:
    authorize(actor, Action.READ_DEFRAG)
    with p.tx() as s:
        return store.get_plan(s, plan_id)


def approve(p: Platform, actor: Principal, plan_id: str) -> store.PlanRecord:
    """Approve a proposed plan and notify its leases at once (deadline = now + the plan's notice)."""
    authorize(actor, Action.SET_DEFRAG)
    with p.tx() as s:
        _approve(s, plan_id, actor.name, p.clock.now())
        plan = store.get_plan(s, plan_id)
    _engine_notify(p, plan)
    return plan


def _engine_notify(p: Platform, plan: store.PlanRecord) -> None:
    """The jobs' notice (engine I/O, after the commit): engines without the hook are skipped (their jobs
    see the lease event only)."""
    notify = getattr(p.driver, "notify_move", None)
    if notify is None:
        return
    for m in plan.moves:
        if m.state is PlanState.NOTIFIED and m.due_at is not None:
            try:
                notify(m.lease_id, m.due_at, f"defragmentation plan {plan.id}")
            except SuanliError as e:  # the move still happens at its deadline; the lease event said so
                log.warning("defrag notice to the engine for lease %s failed: %s", m.lease_id, e.message)


def _engine_move(p: Platform, lease_id: str) -> None:
    """After a move's commit: the engine runs the lease on its new devices. The local engine restarts
    its running jobs there (:meth:`suanli.drivers.local.LocalDriver.move`); another engine releases
    the lease and provisions it again (its jobs end at the move)."""
    drv = p.driver
    if drv is None:
        return
    now = p.clock.now()
    with p.tx() as s:
        lease = lease_store.get_lease(s, lease_id)
        tenant = account_store.get_account(s, lease.tenant_id)
        grant = grant_for(lease, tenant.name, p.catalog(s), now,
                          fleet_store.nodes_by_name(s, (a.node for a in lease.allocations)),
                          slice_limits=slicing.limits_for(s, lease))
    try:
        move = getattr(drv, "move", None)
        if move is not None:
            move(grant)
        else:
            drv.release(lease_id)
            drv.provision(grant)
        state, error = "provisioned", ""
    except SuanliError as e:
        state, error = "error", f"move: {e.message}"
        log.warning("defrag move on the engine for lease %s failed: %s", lease_id, e.message)
    with p.tx() as s:
        engine_store.set_mirror(s, lease_id, drv.name, state, now, engine_ref=lease_id, error=error)


def _approve(s: Session, plan_id: str, by: str, now: datetime) -> None:
    plan = store.get_plan(s, plan_id, for_update=True)
    dom.check_plan_transition(plan_id, plan.state, PlanState.APPROVED)
    due = now + timedelta(seconds=plan.notice_s)
    store.set_plan(s, plan_id, state=PlanState.NOTIFIED, approved_by=by, approved_at=now)
    for m in plan.moves:
        lease = lease_store.get_lease(s, m.lease_id, for_update=True)
        if lease.state is not LeaseState.ACTIVE:
            store.set_move(s, m.id, state=PlanState.FAILED, reason=f"lease is {lease.state.value}", done_at=now)
            continue
        store.set_move(s, m.id, state=PlanState.NOTIFIED, due_at=due)
        lease_store.add_event(s, m.lease_id, now, lease.state, lease.state,
                              f"defragmentation notice: this migratable lease moves to other devices at "
                              f"{due.isoformat()} (plan {plan_id}); checkpoint before then", actor=by)


def cancel(p: Platform, actor: Principal, plan_id: str) -> store.PlanRecord:
    authorize(actor, Action.SET_DEFRAG)
    now = p.clock.now()
    with p.tx() as s:
        plan = store.get_plan(s, plan_id, for_update=True)
        dom.check_plan_transition(plan_id, plan.state, PlanState.CANCELLED)
        store.set_plan(s, plan_id, state=PlanState.CANCELLED, finished_at=now)
        for m in plan.moves:
            if m.state in dom.OPEN_STATES:
                store.set_move(s, m.id, state=PlanState.CANCELLED, done_at=now, reason=f"cancelled by {actor.name}")
                if m.state is PlanState.NOTIFIED:
                    lease = lease_store.get_lease(s, m.lease_id)
                    lease_store.add_event(s, m.lease_id, now, lease.state, lease.state,
                                          f"defragmentation move cancelled (plan {plan_id}): the lease stays",
                                          actor=actor.name)
        return store.get_plan(s, plan_id)


# ----------------------------------------------------------------------------------- the background pass
def tick(p: Platform) -> int:
    """Due moves first, then (auto on) a new plan, approved at once, when no plan is open and an order
    waits for whole devices. Returns the moves made."""
    now = p.clock.now()
    with p.tx() as s:
        due = store.due_moves(s, now)
    made = 0
    for m in due:
        for _ in range(5):
            try:
                with p.tx() as s:
                    done = _execute(p, s, m.id, now)
                made += done
                if done:
                    _engine_move(p, m.lease_id)
                break
            except StaleClaim:
                continue
        else:
            with p.tx() as s:
                store.set_move(s, m.id, state=PlanState.FAILED, done_at=p.clock.now(),
                               reason="the destination kept changing hands")
    with p.tx() as s:
        for pid in store.open_plan_ids(s):
            _close_if_over(s, pid, p.clock.now())
    with p.tx() as s:
        auto = store.settings(s).auto and not store.open_plan_ids(s)
    if auto:
        try:
            plan = _propose(p, AUTO_ACTOR, (), auto=True)
        except (ValidationError, IntegrityError, ConflictError):
            plan = None  # nothing waits for whole devices (or a race with an operator's plan)
        if plan is not None:
            with p.tx() as s:
                _approve(s, plan.id, AUTO_ACTOR, p.clock.now())
                plan = store.get_plan(s, plan.id)
            _engine_notify(p, plan)
    return made


def _close_if_over(s: Session, plan_id: str, now: datetime) -> None:
    plan = store.get_plan(s, plan_id, for_update=True)
    if plan.state is not PlanState.NOTIFIED or any(m.state in dom.OPEN_STATES for m in plan.moves):
        return
    ok = all(m.state is PlanState.DONE for m in plan.moves)
    store.set_plan(s, plan_id, state=PlanState.DONE if ok else PlanState.FAILED, finished_at=now)


def _execute(p: Platform, s: Session, move_id: int, now: datetime) -> int:
    move = next((m for m in store.due_moves(s, now) if m.id == move_id), None)
    if move is None:
        return 0
    lease = lease_store.get_lease(s, move.lease_id, for_update=True)
    if lease.state is not LeaseState.ACTIVE:
        store.set_move(s, move.id, state=PlanState.FAILED, done_at=now, reason=f"lease is {lease.state.value}")
        return 0
    held = [a for a in lease.allocations if a.end is None or a.end > now]
    if sorted(a.device_id for a in held) != sorted(move.old_devices):
        store.set_move(s, move.id, state=PlanState.FAILED, done_at=now, reason="the lease's devices changed since the plan")
        return 0
    snap = snapshot(p, s, now, lease.end, exclude_lease=lease.id)
    where = {d.id: (i, slot) for (i, slot), d in snap.slot_device.items()}
    for dev, milli, _mem in move.new_grants:
        spot = where.get(dev)
        if spot is None or int(snap.state.dev_free_milli[spot]) < milli:
            name = f"{snap.slot_device[spot].node}/{spot[1]}" if spot is not None else f"device #{dev}"
            store.set_move(s, move.id, state=PlanState.FAILED, done_at=now,
                           reason=f"{name} is no longer free; the lease stays where it is")
            return 0
    why = slice_mixing.refused_move(s, snap.mixing, lease.id, [g[0] for g in move.new_grants])  # MIXING
    if why:
        store.set_move(s, move.id, state=PlanState.FAILED, done_at=now, reason=f"{why}; the lease stays where it is")
        return 0
    grants = tuple(move.new_grants)
    with audit_context.system():
        lease_store.claim_devices(s, snap.versions(grants))
        granted = max(now, p.clock.now())  # the grant instant: read after the claim
        lease_store.end_open_allocations(s, lease.id, granted)
        spec = lease_store.get_order(s, lease.order_id, tenant_id=None).spec
        shapes.stage_holds(s, snap, lease.id, spec, Plan(grants, "defrag"), granted, lease.end)
        lease_store.insert_allocations(s, lease.id, grants, granted, lease.end)
        names = sorted({snap.slot_device[where[g[0]]].node for g in grants})
        lease_store.add_event(s, lease.id, granted, lease.state, lease.state,
                              f"moved by defragmentation (plan {move.plan_id}) to node {', '.join(names)}; "
                              f"the job restarts there with {dom.RESTORED_ENV}=1")
        store.set_move(s, move.id, state=PlanState.DONE, done_at=granted, reason=f"moved to {', '.join(names)}")
    return 1


def _spot_doc(spots: Mapping[int, store.DeviceSpot], device_id: int, milli: int, memory_mib: int) -> dict[str, Any]:
    sp = spots.get(device_id)
    return {"device_id": device_id, "node": sp.node if sp else "", "device": sp.slot if sp else -1,
            "model": sp.model if sp else "", "site": sp.site if sp else "", "milli": milli, "memory_mib": memory_mib}


def _where(devs: Sequence[Mapping[str, Any]], known: tuple[str, str] | None = None) -> str:
    """``node/device (share, model, site)`` per node, as lease allocations name devices, e.g.
    ``nx-a100-01/7 (A100-80GB, nx-west-1)``; the share only when it is a fraction; model and site left out
    when they are ``known`` (the move's origin)."""
    parts: list[str] = []
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for d in devs:
        groups.setdefault(d["node"] or f"device #{d['device_id']}", []).append(d)
    for node, ds in groups.items():
        first = ds[0]
        text = node if not first["node"] else f"{node}/{','.join(str(d['device']) for d in ds)}"
        extra = [f"{Decimal(first['milli']) / MILLI:g}"] if first["milli"] < MILLI else []
        if first["node"] and (first["model"], first["site"]) != known:
            extra += [first["model"], first["site"]]
        parts.append(text + (f" ({', '.join(extra)})" if extra else ""))
    return " + ".join(parts)


def _move_doc(m: store.MoveRecord, spots: Mapping[int, store.DeviceSpot]) -> dict[str, Any]:
    # a move keeps the lease's shape: the i-th device before holds the share the i-th grant holds after
    same = len(m.old_devices) == len(m.new_grants)
    frm = [_spot_doc(spots, d, m.new_grants[i][1] if same else MILLI, m.new_grants[i][2] if same else 0)
           for i, d in enumerate(m.old_devices)]
    to = [_spot_doc(spots, g[0], g[1], g[2]) for g in m.new_grants]
    from_where = _where(frm)
    to_where = _where(to, (frm[0]["model"], frm[0]["site"]) if frm and frm[0]["node"] else None)
    return {"id": m.id, "lease_id": m.lease_id, "state": m.state.value, "from_devices": frm, "to": to,
            "from_where": from_where, "to_where": to_where, "route": f"{from_where} → {to_where}",
            "frees": m.frees, "due_at": m.due_at, "done_at": m.done_at, "reason": m.reason}


def plan_docs(p: Platform, plans: Sequence[store.PlanRecord]) -> list[dict[str, Any]]:
    """Plans as the API shows them: each move's devices by node, slot, model and site (docs/defrag.md)."""
    ids = {d for plan in plans for m in plan.moves for d in (*m.old_devices, *(g[0] for g in m.new_grants))}
    with p.tx() as s:
        spots = store.device_spots(s, ids)
    return [{
        "id": plan.id, "state": plan.state.value, "auto": plan.auto, "summary": plan.summary,
        "notice_s": plan.notice_s, "created_by": plan.created_by, "created_at": plan.created_at,
        "approved_by": plan.approved_by, "approved_at": plan.approved_at, "finished_at": plan.finished_at,
        "targets": plan.targets, "moves": [_move_doc(m, spots) for m in plan.moves],
    } for plan in plans]


def plan_doc(p: Platform, plan: store.PlanRecord) -> dict[str, Any]:
    return plan_docs(p, [plan])[0]

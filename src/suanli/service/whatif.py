"""What-if runs on the live fleet: export a snapshot, start a run in a worker thread, progress, cancel.

:func:`live_snapshot` exports what the pure simulator (:mod:`suanli.sim.whatif`) needs, as domain
objects, in one read-only transaction: the nodes (model, devices, site, supplier, state), the sites
(PUE, power price), the catalog, the list prices, floors and commission rate in force, and the
grants of the last ``days`` days (tenants anonymised), and the operator's investment inputs (capex
per node, opex per site, life and financing: the payback). :func:`actual_figures` computes today's
figures from the same records for reference.

:func:`start_run` validates the parameters (422 naming the field and what is allowed), estimates the
run's cost from the number of events (``orders × growth × horizon``, both runs) and refuses a run
estimated over ``SUANLI_WHATIF_MAX_SECONDS`` *before* anything is written; otherwise it stores a
``queued`` run and runs it in a worker thread of this server process. The worker writes progress and
a heartbeat as it goes (and reads whether a cancel was asked); a live run whose heartbeat is older
than :data:`suanli.domain.whatif.HEARTBEAT_TTL_S` (its process was killed) is failed by the next
background pass (:func:`fail_stale`). Reads (:func:`get_run`, :func:`list_runs`) never write.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.catalog import Catalog
from suanli.domain.fleet import NodeState
from suanli.domain.whatif import HEARTBEAT_TTL_S, PastGrant, RunState, WhatIfRun
from suanli.errors import ConflictError, SuanliError, ValidationError
from suanli.service.leadership import replica
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.sim.dynamic import SimulationCancelled
from suanli.sim.jobs import default_trace_dir, resolve_pods
from suanli.sim.pricing import PriceList, Served, rate_served
from suanli.sim.traces import load_pods
from suanli.sim.whatif import AddNodes as AddNodes  # re-exported: the API builds the change with it
from suanli.sim.whatif import (
    Change,
    FleetNode,
    LiveSnapshot,
    PastOrder,
    SiteInfo,
    estimate_seconds,
    run,
    trace_orders,
    validate,
)
from suanli.store import fleet as fleet_store
from suanli.store import investment as investment_store
from suanli.store import whatif as store

log = logging.getLogger("suanli.whatif")

MAX_DAYS = 90
MAX_LIVE_RUNS = 2
"""Runs queued or running at once (each takes a CPU core of the server while it runs)."""
WHOLE_NODE_FORMS = ("server", "cluster")


@dataclass(frozen=True)
class WhatIfParams:
    days: int = 7
    seed: int = 42
    policy: str | None = None
    price_change_pct: Decimal = Decimal(0)
    price_models: tuple[str, ...] = ()
    elasticity: Decimal = Decimal(0)
    add_nodes: tuple[AddNodes, ...] = ()
    remove_nodes: tuple[str, ...] = ()
    growth: Decimal = Decimal(1)
    trace: str | None = None
    """``openb``: replay the Alibaba openb trace's last ``days`` days instead of the fleet's own orders."""

    def change(self) -> Change:
        return Change(self.policy, self.price_change_pct, self.price_models, self.elasticity, self.add_nodes,
                      self.remove_nodes, self.growth)

    def to_json(self) -> dict[str, Any]:
        return {"days": self.days, "seed": self.seed, "policy": self.policy,
                "price_change_pct": str(self.price_change_pct), "price_models": list(self.price_models),
                "elasticity": str(self.elasticity), "growth": str(self.growth),
                "add_nodes": [{"model": a.model, "count": a.count, "site": a.site, "devices": a.devices,
                               "cpu_cores": a.cpu_cores, "supplier": a.supplier} for a in self.add_nodes],
                "remove_nodes": list(self.remove_nodes), "trace": self.trace}


# ----------------------------------------------------------------------------------- the snapshot
def _orders(grants: list[PastGrant], since: datetime, now: datetime) -> tuple[PastOrder, ...]:
    """One past order per grant (tenants anonymised in order of first appearance)."""
    anon: dict[str, str] = {}
    out: list[PastOrder] = []
    for g in grants:
        tenant = anon.setdefault(g.tenant, f"t{len(anon) + 1}")
        running = g.end is None or g.end > now
        end = now if running else g.end
        assert end is not None
        whole = g.form in WHOLE_NODE_FORMS
        inside = g.start >= since
        if not inside and not running:
            continue
        out.append(PastOrder(tenant, max(0.0, (g.start - since).total_seconds()),
                             max(1.0, (end - g.start).total_seconds()), g.model, 1 if g.milli < 1000 else g.devices,
                             g.milli, whole_node=whole, running=running,
                             remaining_s=None if g.end is None else max(0.0, (g.end - now).total_seconds()),
                             in_window=inside))
    return tuple(out)


TRACES = ("openb",)


def trace_demand(name: str, days: int) -> tuple[PastOrder, ...]:
    """The orders of a trace from ../shared/traces (``SUANLI_TRACE_DIR``): openb's default pod list."""
    if name not in TRACES:
        raise ValidationError(f"unknown trace {name!r}; allowed: {', '.join(TRACES)}", field="trace",
                              allowed=list(TRACES))
    path = resolve_pods("default", default_trace_dir())
    if not path.is_file():
        raise ValidationError(f"trace {name}: no pod list at {path}; set SUANLI_TRACE_DIR to the "
                              "alibaba-gpu-v2023 folder of ../shared/traces", field="trace")
    pods = load_pods(path)
    if pods.creation_time is None or pods.deletion_time is None:
        raise ValidationError(f"trace {name}: {path} has no creation_time/deletion_time columns", field="trace")
    return trace_orders(pods.creation_time.tolist(), pods.deletion_time.tolist(), pods.num_gpu.tolist(),
                        pods.gpu_milli.tolist(), days)


def live_snapshot(p: Platform, s: Session, days: int) -> LiveSnapshot:
    now = p.clock.now()
    since = now - timedelta(days=days)
    cat = p.catalog(s)
    models = {m.name: m for m in cat}
    nodes = tuple(FleetNode(n.name, n.site, n.supplier, n.model, n.device_count, n.cpu_cores, n.fabric,
                            available=n.state is NodeState.AVAILABLE, switched_on=n.state is not NodeState.DOWN)
                  for n in fleet_store.list_nodes(s))
    sites = tuple(SiteInfo(x.name, x.pue, x.power_price_kwh) for x in fleet_store.list_sites(s))
    prices = PriceList(price_book(p, s), models, fleet_store.floors_by_key(s), Decimal(p.settings.commission_rate),
                       p.settings.currency, f"the live list prices at {now.isoformat()}")
    grants = store.past_grants(s, since, now)
    capex = {c.node: c for c in investment_store.list_capex(s)}
    opex = {o.site: o.total for o in investment_store.list_opex(s)}
    return LiveSnapshot(now, days, nodes, sites, models, prices, _orders(grants, since, now),
                        p.settings.placement_policy, capex, opex, investment_store.get_settings(s))


def actual_figures(snap: LiveSnapshot, grants: list[PastGrant]) -> dict[str, str]:
    """Today's figures from the records over the window: device time held (clipped to the window),
    allocation and lease rate, and that time rated at the list prices in force now."""
    since = snap.at - timedelta(days=snap.days)
    node_of = {n.name: n for n in snap.nodes}
    held: dict[tuple[str, str], Decimal] = {}
    for g in grants:
        a, b = max(g.start, since), min(g.end or snap.at, snap.at)
        if b <= a or g.node not in node_of:
            continue
        secs = Decimal(int((b - a).total_seconds())) * g.devices * g.milli / 1000
        held[(g.node, g.model)] = held.get((g.node, g.model), Decimal(0)) + secs
    served = [Served(node, model, node_of[node].site, node_of[node].supplier, q) for (node, model), q in held.items()]
    rev = rate_served(served, snap.prices, snap.at, snap.at + timedelta(days=snap.days))
    hours = Decimal(snap.days * 24)
    total = sum(n.devices for n in snap.nodes)
    avail = sum(n.devices for n in snap.nodes if n.available)
    dev_h = sum(held.values(), Decimal(0)) / 3600
    return {"device_hours": str(dev_h.quantize(Decimal("0.001"))),
            "allocation_pct": str((100 * dev_h / (total * hours)).quantize(Decimal("0.01"))) if total else "0",
            "lease_rate_pct": str((100 * dev_h / (avail * hours)).quantize(Decimal("0.01"))) if avail else "0",
            "revenue_at_list": str(rev.revenue), "supplier_share": str(rev.supplier_share),
            "commission": str(rev.commission), "orders": str(len(snap.orders)), "devices": str(total),
            "available_devices": str(avail)}


# ----------------------------------------------------------------------------------- runs
@dataclass
class Runner:
    """This process's worker threads and their cancel flags (one per platform)."""

    p: Platform
    flags: dict[str, threading.Event] = field(default_factory=dict)
    threads: dict[str, threading.Thread] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def launch(self, run_id: str, snap: LiveSnapshot, params: WhatIfParams, actual: dict[str, str]) -> None:
        flag = threading.Event()
        t = threading.Thread(target=self._work, args=(run_id, snap, params, actual, flag), name=f"whatif-{run_id}",
                             daemon=True)
        with self.lock:
            self.flags[run_id] = flag
            self.threads[run_id] = t
        t.start()

    def cancel(self, run_id: str) -> None:
        with self.lock:
            flag = self.flags.get(run_id)
        if flag is not None:
            flag.set()

    def join(self, run_id: str, timeout: float | None = None) -> None:
        with self.lock:
            t = self.threads.get(run_id)
        if t is not None:
            t.join(timeout)

    def _work(self, run_id: str, snap: LiveSnapshot, params: WhatIfParams, actual: dict[str, str],
              flag: threading.Event) -> None:
        p = self.p
        try:
            with p.tx() as s:
                if not store.start(s, run_id, p.clock.now(), replica(p).id):
                    return
            last = [0.0]

            def progress(x: float) -> None:
                t = time.monotonic()
                if x < 1.0 and t - last[0] < 0.2:
                    return
                last[0] = t
                with p.tx() as s:
                    if store.heartbeat(s, run_id, Decimal(str(round(min(x, 1.0), 4))), p.clock.now()):
                        flag.set()

            try:
                res = run(snap, params.change(), params.seed, progress, flag.is_set)
            except SimulationCancelled:
                with p.tx() as s:
                    store.finish(s, run_id, RunState.CANCELLED, p.clock.now(), error="cancelled by the operator")
                return
            except SuanliError as e:
                with p.tx() as s:
                    store.finish(s, run_id, RunState.FAILED, p.clock.now(), error=e.message)
                return
            with p.tx() as s:
                store.finish(s, run_id, RunState.DONE, p.clock.now(), result=res.to_json() | {"actual": actual})
        except Exception as e:  # never leave a run live behind a crashed thread
            log.exception("what-if run %s failed", run_id)
            try:
                with p.tx() as s:
                    store.finish(s, run_id, RunState.FAILED, p.clock.now(), error=f"internal error: {type(e).__name__}")
            except Exception:
                log.exception("what-if run %s: could not record the failure", run_id)
        finally:
            with self.lock:
                self.flags.pop(run_id, None)


def runner(p: Platform) -> Runner:
    return p.attached(Runner)


def canonical(change: Change, cat: Catalog) -> Change:
    """Model names as the catalog spells them (names are case-insensitive and take aliases: ``h800``)."""
    def name(m: str) -> str:
        return cat.get(m).name if m in cat else m

    return replace(change, price_models=tuple(name(m) for m in change.price_models),
                      add_nodes=tuple(replace(a, model=name(a.model)) for a in change.add_nodes))


def check_params(params: WhatIfParams) -> None:
    if not 1 <= params.days <= MAX_DAYS:
        raise ValidationError(f"days must lie in 1..{MAX_DAYS} (the history window replayed, and the horizon), got "
                              f"{params.days}", field="days")
    if not 0 <= params.seed < 2**31:
        raise ValidationError(f"seed must lie in 0..{2**31 - 1}, got {params.seed}", field="seed")


def start_run(p: Platform, actor: Principal, params: WhatIfParams) -> WhatIfRun:
    """Validate, estimate, store a queued run and start it (see the module docstring)."""
    authorize(actor, Action.RUN_WHATIF)
    check_params(params)
    traced = trace_demand(params.trace, params.days) if params.trace is not None else None
    with p.read() as s:
        snap = live_snapshot(p, s, params.days)
        if traced is not None:
            snap = replace(snap, orders=traced)
        grants = store.past_grants(s, snap.at - timedelta(days=params.days), snap.at)
        live = store.live_runs(s)
    change = canonical(params.change(), Catalog(snap.models.values()))
    params = replace(params, price_models=change.price_models, add_nodes=change.add_nodes)
    validate(snap, change)
    est = estimate_seconds(snap, change)
    limit = p.settings.whatif_max_seconds
    if est > limit:
        raise ValidationError(
            f"this what-if would run about {est / 60:.1f} minutes ({len(snap.orders)} orders over {params.days} days "
            f"× growth {params.growth}, both runs); at most {limit / 60:.1f} minutes allowed "
            "(SUANLI_WHATIF_MAX_SECONDS) — shorten the horizon (days) or lower the growth",
            field="days", estimate_seconds=round(est, 1), max_seconds=limit)
    if len(live) >= MAX_LIVE_RUNS:
        raise ConflictError(f"{len(live)} what-if runs are in progress ({', '.join(r.id for r in live)}); at most "
                            f"{MAX_LIVE_RUNS} at once: wait for one to finish or cancel it", runs=[r.id for r in live])
    actual = actual_figures(snap, grants)
    run_id = "wif_" + secrets.token_hex(6)
    with p.tx() as s:
        made = store.add_run(s, run_id, params.to_json(), Decimal(str(round(est, 3))), actor.account_id,
                             p.clock.now(), replica(p).id)
    runner(p).launch(run_id, snap, params, actual)
    return made


def get_run(p: Platform, actor: Principal, run_id: str) -> WhatIfRun:
    authorize(actor, Action.READ_WHATIF)
    with p.read() as s:
        return store.get_run(s, run_id)


def list_runs(p: Platform, actor: Principal, limit: int = 50) -> list[WhatIfRun]:
    authorize(actor, Action.READ_WHATIF)
    with p.read() as s:
        return store.list_runs(s, limit)


def cancel_run(p: Platform, actor: Principal, run_id: str) -> WhatIfRun:
    """A queued run is cancelled at once; a running one stops at its next progress step (its state
    turns ``cancelled`` then). A finished run: 409."""
    authorize(actor, Action.RUN_WHATIF)
    with p.tx() as s:
        found = store.get_run(s, run_id)
        if not found.state.live:
            raise ConflictError(f"what-if run {run_id} is {found.state.value}; only a queued or running run can be "
                                "cancelled", run=run_id, state=found.state.value)
        store.request_cancel(s, run_id, p.clock.now())
    runner(p).cancel(run_id)
    with p.read() as s:
        return store.get_run(s, run_id)


def fail_stale(p: Platform) -> list[str]:
    """The background pass: live runs whose process stopped heartbeating are failed."""
    now = p.clock.now()
    with p.tx() as s:
        return store.fail_stale(s, now - timedelta(seconds=HEARTBEAT_TTL_S), now)

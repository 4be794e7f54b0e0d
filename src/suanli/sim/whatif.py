"""What-if on the live fleet: replay recent demand on today's fleet and on a changed one.

Pure: the service exports a :class:`LiveSnapshot` (the fleet, the list prices, floors and
commission rate in force, the orders of the last ``days`` days, anonymised); :func:`run` replays
that demand over a horizon of the same length twice, with the same seed: as the fleet is today
(the *baseline*) and with a :class:`Change`. Both runs use the same scheduler policies as the server
(:mod:`suanli.scheduler`) and the event loop of :mod:`suanli.sim.dynamic`; served device time is
rated through the ledger (:mod:`suanli.sim.pricing`). No I/O here; progress and cancel come in as
callables.

Demand model (documented in docs/whatif.md):

* every past order is one arrival at its offset into the window, of the shape it was granted (its
  devices on one node — a lease over several nodes counts once per node —, the share of a slice, a
  whole server, a cluster of nodes), allowed on the model it got, any site, for the time it held
  its devices (granted start to end; still running: to the snapshot instant);
* the leases running at the snapshot are also on the fleet at t=0, for their remaining fixed term,
  or, open-ended, for as long again as they have run (the expected residual life under a
  length-biased draw is not known from a few days; "as long again" is the median estimate for a
  lifetime that is equally likely at any point of its life);
* demand growth ``g`` and the demand response to a price change scale each order's arrival rate:
  its arrival times are divided by ``f = g × r`` and the window is repeated (``f`` > 1) or cut
  (``f`` < 1) to fill the horizon. ``r = max(0, 1 + ε × Δp/100)`` for a model whose price changes
  by ``Δp`` percent with the operator's elasticity ``ε`` (0 by default: no demand response);
* a job waiting longer than ``patience`` (6 h) is rejected (the customer leaves).

Figures of one run (:class:`Outcome`):

* allocation rate = time-average of allocated device capacity ÷ all devices (down and
  maintenance nodes included);
* lease rate (出租率) = rented device-hours ÷ available device-hours (nodes in state available);
* revenue, supplier share, commission: the served device time rated by the ledger;
* energy = facility energy of the nodes switched on (not down) over the horizon, with the capacity
  report's power model (:func:`suanli.domain.capacity_series.modelled_power_w`, docs/capacity.md):
  per device ``TDP × (0.3 + 0.7 × u)``, ``u`` its rented share, so
  ``kWh = Σ_nodes TDP × (0.3 × devices × H + 0.7 × rented device-hours) ÷ 1000 × PUE``; energy cost
  = Σ of it × the site's power price;
* margin = revenue − supplier share − energy cost;
* payback (years): the operator's investment appraisal (:func:`suanli.ledger.finance.appraise`, the
  same finance core as the economics report) of the run's fleet: capex and residual of its nodes (the
  investment inputs; an added node at the mean capex and residual per device of its model's nodes
  with inputs), the sites' fixed opex, the operator's life, financing, discount rate and price
  decline, and the run's revenue, supplier share and energy cost as yearly run-rates (× 365 ÷ days).
  ``None`` when no capex is entered for the fleet, or an added model has no capex to go by, or the
  flows never pay back within the life.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from suanli.domain.capacity_series import kwh as energy_kwh
from suanli.domain.capacity_series import modelled_power_w
from suanli.domain.catalog import AcceleratorModel
from suanli.domain.investment import InvestmentSettings, NodeCapex
from suanli.errors import ValidationError
from suanli.ledger import finance
from suanli.scheduler import MILLI, FleetState, PlacementRequest, policy_names
from suanli.sim.dynamic import DynamicResult, Job, simulate
from suanli.sim.pricing import PriceList, Revenue, rate_served, served_of

ZERO = Decimal(0)
PATIENCE_S = 6 * 3600.0
MAX_GROWTH = Decimal(100)
MAX_DAYS = 90
MAX_ADDED_NODES = 1000
SECONDS_PER_EVENT = 0.002
"""Estimated wall seconds of simulation per event (an arrival or an end; both runs counted): ``suanli
whatif bench`` (2,000 orders, 7 days, growth 2: 12,000 events) measured 0.0005 s of CPU and 0.0017 s of
wall time per event on a busy 2-core machine; the estimate takes the wall figure, rounded up (docs/whatif.md)."""


@dataclass(frozen=True)
class FleetNode:
    name: str
    site: str
    supplier: str
    model: str
    devices: int
    cpu_cores: int
    fabric: str
    available: bool = True
    """False for a node down or in maintenance: its devices count in the total, not as available."""
    switched_on: bool = True
    """False for a node down (it draws no power); a node in maintenance draws its idle power."""


@dataclass(frozen=True)
class SiteInfo:
    name: str
    pue: Decimal
    power_price_kwh: Decimal


@dataclass(frozen=True)
class PastOrder:
    tenant: str
    """Anonymised (``t1``, ``t2`` … in order of first appearance)."""
    arrival_s: float
    """Seconds after the window's start at which its devices were granted."""
    duration_s: float
    model: str
    devices: int
    """Devices per node (whole devices, or 1 for a slice)."""
    milli: int = MILLI
    """Share of each device (1000 = whole)."""
    whole_node: bool = False
    gang_nodes: int = 0
    running: bool = False
    remaining_s: float | None = None
    """For a lease running at the snapshot: its remaining fixed term (``None``: open-ended)."""
    in_window: bool = True
    """Granted inside the window (replayed as an arrival); a lease granted before it and still running
    is only on the fleet at t=0."""


@dataclass(frozen=True)
class LiveSnapshot:
    at: datetime
    days: int
    nodes: tuple[FleetNode, ...]
    sites: tuple[SiteInfo, ...]
    models: Mapping[str, AcceleratorModel]
    prices: PriceList
    orders: tuple[PastOrder, ...]
    policy: str
    """The server's placement policy today."""
    capex: Mapping[str, NodeCapex] = field(default_factory=dict)
    """The investment inputs per node (those entered)."""
    opex: Mapping[str, Decimal] = field(default_factory=dict)
    """Fixed opex per site and year."""
    investment: InvestmentSettings | None = None
    """Life, financing, discount rate, price decline (``None``: no payback is computed)."""

    @property
    def window_s(self) -> float:
        return self.days * 86400.0


@dataclass(frozen=True)
class AddNodes:
    model: str
    count: int
    site: str
    devices: int = 8
    cpu_cores: int = 128
    supplier: str = ""
    """The supplier paid for the new nodes' time ("": the operator's own nodes, no supplier share)."""


@dataclass(frozen=True)
class Change:
    policy: str | None = None
    price_change_pct: Decimal = ZERO
    price_models: tuple[str, ...] = ()
    """Models whose price changes (empty: every model)."""
    elasticity: Decimal = ZERO
    add_nodes: tuple[AddNodes, ...] = ()
    remove_nodes: tuple[str, ...] = ()
    growth: Decimal = Decimal(1)


@dataclass(frozen=True)
class Outcome:
    policy: str
    devices: int
    available_devices: int
    allocation_pct: Decimal
    lease_rate_pct: Decimal
    device_hours: Decimal
    available_device_hours: Decimal
    revenue: Decimal
    supplier_share: Decimal
    commission: Decimal
    energy_kwh: Decimal
    energy_cost: Decimal
    margin: Decimal
    orders: int
    """Orders arriving within the horizon (the leases on the fleet at t=0 not counted)."""
    started: int
    rejected: int
    waiting: int
    unpriced_device_hours: Decimal
    revenue_by_model: dict[str, Decimal] = field(default_factory=dict)
    payback_years: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if isinstance(v, dict):
                out[k] = {a: str(b) for a, b in sorted(v.items())}
            elif isinstance(v, Decimal):
                out[k] = str(v)
            else:
                out[k] = v
        return out


@dataclass(frozen=True)
class WhatIfResult:
    baseline: Outcome
    changed: Outcome
    horizon_days: int
    seed: int
    price_list: str
    currency: str
    priced_at: datetime
    """The list prices in force at this instant (the snapshot's) rate both runs."""

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_json(), "changed": self.changed.to_json(),
                "horizon_days": self.horizon_days, "seed": self.seed, "price_list": self.price_list,
                "currency": self.currency, "priced_at": self.priced_at.isoformat()}


# ----------------------------------------------------------------------------------- validation
def validate(snap: LiveSnapshot, change: Change) -> None:
    """Raise :class:`ValidationError` naming the field and what is allowed (see docs/whatif.md)."""
    pols = policy_names()
    if change.policy is not None and change.policy.strip().lower() not in pols:
        raise ValidationError(f"unknown policy {change.policy!r}; allowed: {', '.join(pols)}", field="policy",
                              allowed=pols)
    if not (ZERO < change.growth <= MAX_GROWTH):
        raise ValidationError(f"growth must be > 0 and at most {MAX_GROWTH} (a factor on the arrival rate; 1 = "
                              f"today's demand), got {change.growth}", field="growth")
    if change.price_change_pct <= -100:
        raise ValidationError(f"price_change_pct must be above -100 (a list price stays > 0), got "
                              f"{change.price_change_pct}", field="price_change_pct")
    if change.price_change_pct > 1000:
        raise ValidationError(f"price_change_pct must be at most 1000, got {change.price_change_pct}",
                              field="price_change_pct")
    if not (-10 <= change.elasticity <= 10):
        raise ValidationError(f"elasticity must lie in -10..10 (% change of demand per % change of price; "
                              f"0 = no demand response), got {change.elasticity}", field="elasticity")
    models = sorted(snap.models)
    for m in change.price_models:
        if m not in snap.models:
            raise ValidationError(f"price_models: unknown model {m!r}; allowed: {', '.join(models)}",
                                  field="price_models", allowed=models)
    site_names = sorted(x.name for x in snap.sites)
    node_names = {n.name for n in snap.nodes}
    total = 0
    for i, a in enumerate(change.add_nodes):
        if a.model not in snap.models:
            raise ValidationError(f"add_nodes[{i}].model: unknown model {a.model!r}; allowed: {', '.join(models)}",
                                  field=f"add_nodes[{i}].model", allowed=models)
        if a.site not in site_names:
            raise ValidationError(f"add_nodes[{i}].site: unknown site {a.site!r}; allowed: {', '.join(site_names)}",
                                  field=f"add_nodes[{i}].site", allowed=site_names)
        if not 1 <= a.count <= MAX_ADDED_NODES:
            raise ValidationError(f"add_nodes[{i}].count must lie in 1..{MAX_ADDED_NODES}, got {a.count}",
                                  field=f"add_nodes[{i}].count")
        if not 1 <= a.devices <= 64 or not 1 <= a.cpu_cores <= 4096:
            raise ValidationError(f"add_nodes[{i}]: devices must lie in 1..64 and cpu_cores in 1..4096",
                                  field=f"add_nodes[{i}].devices")
        total += a.count
    if total > MAX_ADDED_NODES:
        raise ValidationError(f"add_nodes: at most {MAX_ADDED_NODES} nodes in all, got {total}", field="add_nodes")
    for n in change.remove_nodes:
        if n not in node_names:
            shown = sorted(node_names)
            raise ValidationError(f"remove_nodes: unknown node {n!r}; allowed: {', '.join(shown[:50])}"
                                  + (" …" if len(shown) > 50 else ""), field="remove_nodes", allowed=shown[:200])
    if change.remove_nodes and len(set(change.remove_nodes)) >= len(node_names) and not change.add_nodes:
        raise ValidationError("remove_nodes would leave no node; keep at least one or add nodes",
                              field="remove_nodes")


def estimate_events(snap: LiveSnapshot, change: Change) -> int:
    """Events of both runs (an arrival and an end per job): orders × growth × response, both runs."""
    base = len(snap.orders) + sum(1 for o in snap.orders if o.running)
    factor = max(Decimal(1), change.growth * max((_response(change, o.model) for o in snap.orders),
                                                 default=Decimal(1)))
    return int(2 * base + 2 * math.ceil(base * float(factor)))


def estimate_seconds(snap: LiveSnapshot, change: Change) -> float:
    """Events × :data:`SECONDS_PER_EVENT` × (1 + nodes ÷ 1,000): a placement scans every node (measured
    on the demo history of 1,000 orders: 0.12 ms of CPU per event on 17 nodes, 0.18 on 217, 0.25 on 1,017)."""
    nodes = len(snap.nodes) + sum(a.count for a in change.add_nodes)
    return estimate_events(snap, change) * SECONDS_PER_EVENT * (1 + nodes / 1000)


# ----------------------------------------------------------------------------------- the runs
def _response(change: Change, model: str) -> Decimal:
    if change.price_change_pct == 0 or change.elasticity == 0:
        return Decimal(1)
    if change.price_models and model not in change.price_models:
        return Decimal(1)
    return max(ZERO, 1 + change.elasticity * change.price_change_pct / 100)


def changed_nodes(snap: LiveSnapshot, change: Change) -> list[FleetNode]:
    gone = set(change.remove_nodes)
    out = [n for n in snap.nodes if n.name not in gone]
    taken = {n.name for n in snap.nodes}
    for a in change.add_nodes:
        for i in range(1, a.count + 1):
            k = i
            name = f"new-{a.site}-{a.model}-{k:03d}"
            while name in taken:
                k += 1000
                name = f"new-{a.site}-{a.model}-{k:03d}"
            taken.add(name)
            out.append(FleetNode(name, a.site, a.supplier, a.model, a.devices, a.cpu_cores, f"{a.site}/{name}"))
    return out


def _state(nodes: Sequence[FleetNode], models: Sequence[str], sites: Sequence[str]) -> FleetState:
    n = len(nodes)
    width = max([x.devices for x in nodes] + [1])
    mcode = {m: i for i, m in enumerate(models)}
    scode = {x: i for i, x in enumerate(sites)}
    fabrics = sorted({x.fabric for x in nodes})
    fcode = {x: i for i, x in enumerate(fabrics)}
    dev_model = np.full((n, width), -1, np.int16)
    dev_free = np.zeros((n, width), np.int32)
    cpu_total = np.zeros(n, np.int64)
    cpu_free = np.zeros(n, np.int64)
    for i, x in enumerate(nodes):
        dev_model[i, : x.devices] = mcode[x.model]
        dev_free[i, : x.devices] = MILLI if x.available else 0
        cpu_total[i] = x.cpu_cores * MILLI
        cpu_free[i] = cpu_total[i] if x.available else 0
    return FleetState(node_ids=[x.name for x in nodes], cpu_total_milli=cpu_total, cpu_free_milli=cpu_free,
                      mem_free_mib=np.full(n, 1 << 40, np.int64), dev_model=dev_model, dev_free_milli=dev_free,
                      model_names=list(models), fabric=np.array([fcode[x.fabric] for x in nodes], np.int32),
                      site=np.array([scode[x.site] for x in nodes], np.int32))


def _request(o: PastOrder, mcode: Mapping[str, int]) -> PlacementRequest:
    allowed = None if not o.model else frozenset({mcode[o.model]}) if o.model in mcode else frozenset({-1})
    if o.gang_nodes:
        return PlacementRequest(gang_nodes=o.gang_nodes, allowed_models=allowed)
    if o.whole_node:
        return PlacementRequest(whole_node=True, allowed_models=allowed)
    return PlacementRequest(num_devices=o.devices, device_milli=o.milli if o.devices == 1 else MILLI,
                            allowed_models=allowed)


def trace_orders(creation: Sequence[int], deletion: Sequence[int], num_gpu: Sequence[int], gpu_milli: Sequence[int],
                 days: int) -> tuple[PastOrder, ...]:
    """The pods of a trace (openb: creation and deletion times in seconds, GPUs, milli per GPU) as the
    orders of a ``days``-day window: the trace's last ``days`` days (by creation time), at their offsets
    into it, for their lifetimes, on any model (a trace's models are not the fleet's); CPU-only pods
    (no GPU) are left out."""
    if not len(creation):
        return ()
    end = max(int(x) for x in creation)
    start = end - days * 86400
    out = [PastOrder("trace", float(c - start), float(max(1, d - c)), "", int(n), int(m) if n == 1 else MILLI)
           for c, d, n, m in zip(creation, deletion, num_gpu, gpu_milli, strict=True) if n >= 1 and c >= start]
    out.sort(key=lambda o: o.arrival_s)
    return tuple(out)


def demand(snap: LiveSnapshot, change: Change, mcode: Mapping[str, int]) -> list[Job]:
    """The jobs of one run (see the module docstring), sorted by arrival."""
    horizon = snap.window_s
    jobs: list[Job] = []
    for o in snap.orders:
        req = _request(o, mcode)
        g = o.devices * (o.gang_nodes or 1) * (o.milli if o.devices == 1 else MILLI)
        if o.running:
            rest = o.remaining_s if o.remaining_s is not None else o.duration_s
            if rest > 0:
                jobs.append(Job(0.0, max(rest, 1.0), req, g, initial=True))
        f = float(change.growth * _response(change, o.model))
        if f <= 0 or not o.in_window:
            continue
        period = horizon / f
        t = o.arrival_s / f
        while t < horizon:
            jobs.append(Job(t, max(o.duration_s, 1.0), req, g))
            t += period
    jobs.sort(key=lambda j: (j.arrival, not j.initial))
    return jobs


def one_run(snap: LiveSnapshot, nodes: Sequence[FleetNode], prices: PriceList, policy: str, jobs: Sequence[Job],
            model_names: Sequence[str], seed: int, progress: Callable[[float], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> Outcome:
    sites = sorted({x.name for x in snap.sites} | {n.site for n in nodes})
    state = _state(nodes, model_names, sites)
    res: DynamicResult = simulate(state, jobs, policy, "backfill", horizon=snap.window_s, seed=seed,
                                  patience=PATIENCE_S, progress=progress, cancelled=cancelled)
    served = served_of(res.served, [n.name for n in nodes], model_names, [n.site for n in nodes],
                       [n.supplier for n in nodes])
    rev: Revenue = rate_served(served, prices, snap.at, snap.at + timedelta(seconds=snap.window_s))
    site_of = {x.name: x for x in snap.sites}
    busy: dict[str, Decimal] = {}
    for x in served:
        busy[x.node] = busy.get(x.node, ZERO) + x.device_seconds
    horizon_s = Decimal(str(snap.window_s))
    kwh = cost = ZERO
    for n in nodes:
        m = snap.models.get(n.model)
        st = site_of.get(n.site)
        if m is None or st is None or not n.switched_on:
            continue
        # the power model integrated over the horizon: devices x seconds in, W x s out
        e = energy_kwh(modelled_power_w(m.tdp_watts, n.devices * horizon_s, busy.get(n.name, ZERO)), Decimal(1)) \
            * st.pue
        kwh += e
        cost += e * st.power_price_kwh
    kwh = kwh.quantize(Decimal("0.001"))
    cost = cost.quantize(Decimal("0.01"))
    hours = Decimal(str(snap.window_s)) / 3600
    n_dev = sum(n.devices for n in nodes)
    n_avail = sum(n.devices for n in nodes if n.available)
    dev_h = (res.device_seconds / 3600).quantize(Decimal("0.001"))
    avail_h = (n_avail * hours).quantize(Decimal("0.001"))
    lease = (100 * res.device_seconds / 3600 / (n_avail * hours)).quantize(Decimal("0.01")) if n_avail else ZERO
    alloc = Decimal(str(round(res.time_avg(res.alloc_pct), 2)))
    arrivals = sum(1 for j in jobs if not j.initial and j.arrival < snap.window_s)
    return Outcome(policy, n_dev, n_avail, alloc, lease, dev_h, avail_h, rev.revenue, rev.supplier_share,
                   rev.commission, kwh, cost, rev.revenue - rev.supplier_share - cost, arrivals, res.started,
                   res.rejected, res.waiting_at_end, rev.unpriced_device_hours.quantize(Decimal("0.001")),
                   rev.by_model, payback(snap, nodes, rev.revenue, rev.supplier_share, cost))


def payback(snap: LiveSnapshot, nodes: Sequence[FleetNode], revenue: Decimal, share: Decimal,
            energy: Decimal) -> Decimal | None:
    """Payback in years of the run's fleet (see the module docstring), to 0.01 year."""
    v = snap.investment
    if v is None or not snap.capex:
        return None
    per_device: dict[str, tuple[Decimal, Decimal, int]] = {}
    for n in snap.nodes:
        c = snap.capex.get(n.name)
        if c is not None:
            cap, res, dev = per_device.get(n.model, (ZERO, ZERO, 0))
            per_device[n.model] = (cap + c.capex, res + c.residual, dev + n.devices)
    cap = residual = ZERO
    for n in nodes:
        c = snap.capex.get(n.name)
        if c is not None:
            cap, residual = cap + c.capex, residual + c.residual
        elif n.name not in {x.name for x in snap.nodes}:  # an added node: its model's mean per device
            known = per_device.get(n.model)
            if known is None or known[2] == 0:
                return None
            cap += known[0] * n.devices / known[2]
            residual += known[1] * n.devices / known[2]
    if cap <= 0:
        return None
    sites = {n.site for n in nodes}
    opex = sum((snap.opex.get(x, ZERO) for x in sorted(sites)), ZERO)
    year = Decimal(365) / snap.days
    inv = finance.Investment(cap, residual, v.life_years, opex,
                             finance.Financing(v.debt_share, v.interest_rate, v.loan_years), v.discount_rate)
    ops = finance.Operations(revenue * year, share / revenue if revenue > 0 else ZERO, energy * year,
                             v.price_decline)
    years = finance.appraise(inv, ops).payback_years
    return None if years is None else years.quantize(Decimal("0.01"))


def run(snap: LiveSnapshot, change: Change, seed: int = 42, progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None) -> WhatIfResult:
    """The baseline and the changed run, same seed; ``progress`` gets 0..1 over both."""
    validate(snap, change)
    new_nodes = changed_nodes(snap, change)
    models = sorted(set(snap.models) | {n.model for n in new_nodes})
    mcode = {m: i for i, m in enumerate(models)}
    horizon = snap.window_s

    def part(offset: float) -> Callable[[float], None] | None:
        if progress is None:
            return None
        return lambda t: progress(min(1.0, offset + 0.5 * t / horizon))

    base = one_run(snap, snap.nodes, snap.prices, snap.policy, demand(snap, Change(), mcode), models, seed,
                   part(0.0), cancelled)
    prices = snap.prices.changed(change.price_change_pct, change.price_models) if change.price_change_pct else \
        snap.prices
    policy = (change.policy or snap.policy).strip().lower()
    changed = one_run(snap, new_nodes, prices, policy, demand(snap, change, mcode), models, seed, part(0.5),
                      cancelled)
    if progress is not None:
        progress(1.0)
    return WhatIfResult(base, changed, snap.days, seed, snap.prices.label, snap.prices.currency, snap.at)

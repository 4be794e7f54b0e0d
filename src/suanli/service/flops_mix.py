"""P of compute across models: where a ``flops`` order's devices go (docs/orders.md, "P of compute").

A ``flops`` order asks for ``p`` P, not for a model. Its **topology** says where the devices may lie,
and so what may be combined:

- ``node``: one node (only that node's devices: several models only if the node has several);
- ``fabric``: one fabric domain (models and sites mix when the domain holds several);
- ``any``: any free devices the order's filters allow (models, vendors, ``min_memory_gib``, sites,
  regions, ``max_rtt_ms``), across models and sites.

Within each domain the topology allows (each node, each fabric, or the whole fleet), the free whole
devices become kinds (model, site) priced at the tenant's device-hour rate in force (the quote path:
:func:`suanli.ledger.quotes.quote_rate`, the tenant's plan over the list price; the list price where
the plan cannot fix one) with their energy cost (TDP × PUE × power price), and
:func:`suanli.scheduler.flops_mix.solve` picks the cheapest mix covering ``p`` (then the least energy,
the least overshoot, the fewest devices). The cheapest domain wins (ties: the first by name). The
placement policy then chooses the devices of each (model, site) inside that domain, as it does for
any order (one device at a time for ``any``; the fewest nodes of the fabric for ``fabric``).

A node counts at most as many devices as its free CPU holds at the proportional share (what the
grant takes with them), dearest models dropped first.

Refusals name the real largest block the topology allows now, in P and devices, per model; an order
larger than the biggest domain of the fleet's *shape* (all matching devices, busy or not) is a 422 at
once (:func:`check_never_fits`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from suanli.domain.catalog import AcceleratorModel
from suanli.domain.leases import OrderSpec, RejectReason, Topology
from suanli.domain.prices import PriceBook
from suanli.errors import ConflictError, ValidationError
from suanli.ledger.plans import PricePlan
from suanli.ledger.quotes import Unquotable, quote_rate
from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest
from suanli.scheduler.flops_mix import Kind, Mix, best_single_model, solve

if TYPE_CHECKING:
    from suanli.service.placement import Snapshot

MILLI = 1000
Prices = Callable[[str, str], Decimal | None]
"""(model, site) -> the device-hour price the order's tenant pays there now (None: not offered)."""
WithCpu = Callable[["Snapshot", Placement], Placement]


@dataclass(frozen=True)
class Granted:
    grants: tuple[tuple[int, int, int], ...]
    """(device id, milli, memory MiB)"""
    reason: str


@dataclass(frozen=True)
class Refused:
    reason: RejectReason
    message: str


def list_prices(snap: Snapshot) -> Prices:
    """The list price in force at the snapshot's start (an order placed without a tenant's plan)."""
    cache: dict[tuple[str, str], Decimal | None] = {}

    def price(model: str, site: str) -> Decimal | None:
        if (model, site) not in cache:
            cache[(model, site)] = snap.book.rate_at(model, site, snap.at)
        return cache[(model, site)]
    return price


def tenant_prices(plans: Sequence[PricePlan], book: PriceBook, tenant_id: str, order_id: str, at: datetime,
                  device_p: Mapping[str, Decimal]) -> Prices:
    """The rate the grant's quote would fix for ``tenant_id`` (its plan over the list price), per
    (model, site); the list price where the plan cannot fix one (volume tiers)."""
    cache: dict[tuple[str, str], Decimal | None] = {}

    def price(model: str, site: str) -> Decimal | None:
        if (model, site) not in cache:
            try:
                cache[(model, site)] = quote_rate(plans, book, tenant_id, order_id, model, site, at,
                                                  device_p.get(model)).device_hour
            except Unquotable:
                cache[(model, site)] = book.rate_at(model, site, at)
        return cache[(model, site)]
    return price


# --------------------------------------------------------------------------- free devices by domain
@dataclass(frozen=True)
class _Domain:
    label: str
    """"on node sh-h800-01", "in fabric sh-east-1/ib-a", "across the fleet"."""
    nodes: np.ndarray
    kinds: tuple[Kind, ...]
    codes: tuple[tuple[int, int], ...]
    """(model code, site code) of each kind"""

    @property
    def p(self) -> Decimal:
        return sum((k.p * k.count for k in self.kinds), Decimal(0))


def _counts(snap: Snapshot, models: frozenset[int] | None, sites: frozenset[int] | None, *, shape: bool,
            prices: Prices | None) -> dict[int, dict[int, int]]:
    """node -> model code -> devices counted (free whole devices, or every device for ``shape``)."""
    st = snap.state
    usable = st.model_mask(models)
    if sites is not None:
        usable = usable & np.isin(st.site, list(sites))[:, None]
    if not shape:
        usable = usable & (st.dev_free_milli == MILLI)
        pool = getattr(snap, "pool", None)
        if pool is not None:
            usable = usable & ~pool
    out: dict[int, dict[int, int]] = {}
    for node in np.flatnonzero(usable.any(axis=1)).tolist():
        row: dict[int, int] = defaultdict(int)
        for code in st.dev_model[node][usable[node]].tolist():
            row[int(code)] += 1
        if not shape:
            per_dev = int(st.cpu_total_milli[node]) // max(int(st.n_devices[node]), 1)
            room = int(st.cpu_free_milli[node]) // per_dev if per_dev > 0 else sum(row.values())
            over = sum(row.values()) - room
            if over > 0:  # the node's free CPU holds fewer devices: drop the dearest per P first
                site = snap.sites[int(st.site[node])]
                for code in sorted(row, key=lambda c: -_per_p(snap, prices, c, site)):
                    cut = min(over, row[code])
                    row[code] -= cut
                    over -= cut
        out[node] = {c: n for c, n in row.items() if n > 0}
    return out


def _per_p(snap: Snapshot, prices: Prices | None, code: int, site: str) -> Decimal:
    name = snap.state.model_names[code]
    price = prices(name, site) if prices is not None else None
    return Decimal("Infinity") if price is None else price / snap.catalog.get(name).p


def _energy(model: AcceleratorModel, snap: Snapshot, site: str) -> Decimal:
    where = snap.site_info.get(site)
    if where is None:
        return Decimal(0)
    return Decimal(model.tdp_watts) / 1000 * where.pue * where.power_price_kwh


def _domains(snap: Snapshot, topology: Topology, counts: Mapping[int, Mapping[int, int]],
             prices: Prices | None) -> list[_Domain]:
    """The placement domains of ``topology`` with their kinds (unpriced devices left out when
    ``prices`` is given; every device with a zero price otherwise, for the fleet's shape)."""
    st = snap.state
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for node in sorted(counts):
        if topology is Topology.NODE:
            groups[("node", snap.node_names[node])].append(node)
        elif topology is Topology.FABRIC:
            groups[("fabric", snap.fabrics[int(st.fabric[node])])].append(node)
        else:
            groups[("any", "")].append(node)
    out = []
    proto: dict[tuple[int, int], Kind | None] = {}  # (model, site) -> its kind without a count
    for (kind_word, name), nodes in sorted(groups.items()):
        total: dict[tuple[int, int], int] = defaultdict(int)
        for node in nodes:
            for code, n in counts[node].items():
                total[(code, int(st.site[node]))] += n
        kinds, codes = [], []
        for (code, sc), n in sorted(total.items(), key=lambda kv: (st.model_names[kv[0][0]], snap.sites[kv[0][1]])):
            if (code, sc) not in proto:
                model = snap.catalog.get(st.model_names[code])
                site = snap.sites[sc]
                price = Decimal(0) if prices is None else prices(model.name, site)
                proto[(code, sc)] = None if price is None else Kind(model.name, site, model.p, price,
                                                                    _energy(model, snap, site), 0)
            k = proto[(code, sc)]
            if k is None:
                continue
            kinds.append(replace(k, count=n))
            codes.append((code, sc))
        label = {"any": "across the fleet", "node": f"on node {name}"}.get(kind_word, f"in fabric {name}")
        out.append(_Domain(label, np.asarray(nodes, np.int64), tuple(kinds), tuple(codes)))
    return [d for d in out if d.kinds]


# --------------------------------------------------------------------------- placing
def place(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec, models: frozenset[int] | None,
          sites: frozenset[int] | None, *, prices: Prices, with_cpu: WithCpu) -> Granted | Refused:
    """Place a ``flops`` order on the snapshot (mutating it on success; all or nothing)."""
    domains = _domains(snap, spec.topology, _counts(snap, models, sites, shape=False, prices=prices), prices)
    if not domains and not _domains(snap, Topology.ANY, _counts(snap, models, sites, shape=True, prices=None),
                                    prices):
        return Refused(RejectReason.NOT_ALLOWED, "no priced devices meet the flops order's constraints")
    best: tuple[Mix, _Domain, tuple[Decimal, Decimal, Decimal, int]] | None = None
    solved: dict[tuple[tuple[str, Decimal, Decimal, Decimal, int], ...], tuple[_Domain, Mix | None]] = {}
    for dom in domains:
        if dom.p < spec.p:
            continue
        # domains alike in every kind but the site's name (idle nodes of one model) have the same answer
        sig = tuple((k.model, k.p, k.price, k.energy, k.count) for k in dom.kinds)
        if sig not in solved:
            solved[sig] = (dom, solve(dom.kinds, spec.p))
        first, mix = solved[sig]
        if mix is not None and first is not dom:
            pos = {id(k): i for i, k in enumerate(first.kinds)}
            mix = Mix(tuple((dom.kinds[pos[id(k)]], x) for k, x in mix.take), exact=mix.exact)
        if mix is not None and (best is None or mix.key() < best[2]):
            best = (mix, dom, mix.key())
    if best is None:
        return Refused(RejectReason.NO_CAPACITY, _refusal(spec, domains))
    mix, dom, _key = best
    out = _put(policy, snap, rng, spec, mix, dom, with_cpu)
    if isinstance(out, Refused):
        return out
    grants, nodes, notes = out
    return Granted(grants, _reason(spec, mix, dom, nodes, notes))


def _put(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec, mix: Mix, dom: _Domain,
         with_cpu: WithCpu) -> tuple[tuple[tuple[int, int, int], ...], int, list[str]] | Refused:
    st = snap.state.copy()
    view = st
    pool = getattr(snap, "pool", None)  # OVERSUB's burstable pool: never offered to guaranteed work
    if spec.topology is not Topology.ANY or (pool is not None and pool.any()):
        view = st.copy()  # the policy sees only the chosen domain's devices, outside the pool
        if spec.topology is not Topology.ANY:
            hidden = np.ones(view.num_nodes, bool)
            hidden[dom.nodes] = False
            view.dev_free_milli[hidden] = 0
        if pool is not None:
            view.dev_free_milli[pool] = 0
        view.touch()
    code_of = dict(zip(dom.kinds, dom.codes, strict=True))
    grants: list[tuple[int, int, int]] = []
    used: set[int] = set()
    notes: list[str] = []
    for kind, x in mix.take:
        code, sc = code_of[kind]
        one, at = frozenset({code}), frozenset({sc})
        reqs: Iterable[PlacementRequest]
        if spec.topology is Topology.NODE:
            reqs = [PlacementRequest(num_devices=x, allowed_models=one, allowed_sites=at)]
        elif spec.topology is Topology.FABRIC:
            reqs = [PlacementRequest(spread_devices=x, allowed_models=one, allowed_sites=at)]
        else:
            reqs = _blocks_of(view, one, at, x)
        for req in reqs:
            decision = policy.place(view, req, rng)  # type: ignore[attr-defined]
            if isinstance(decision, NoFit):
                return Refused(RejectReason.NO_CAPACITY, f"{x} x {kind.model} at {kind.site} in {dom.label}: "
                                                         f"{decision.reason}")
            decision = with_cpu(snap, decision)
            try:
                st.apply(decision)
            except ConflictError as e:  # the node's host resources cannot hold the devices' share
                return Refused(RejectReason.NO_CAPACITY, f"{x} x {kind.model} at {kind.site} in {dom.label}: {e}")
            if view is not st:
                view.apply(decision)
            if spec.topology is not Topology.ANY:
                notes.append(decision.reason)
            for i, node in enumerate(decision.nodes):
                used.add(node)
                for slot, milli in zip(decision.devices[i], decision.device_milli[i], strict=True):
                    grants.append((snap.slot_device[(node, slot)].id, milli, 0))
    snap.state = st
    return tuple(grants), len(used), notes


def _blocks_of(st: FleetState, model: frozenset[int], site: frozenset[int], x: int) -> Iterator[PlacementRequest]:
    """``any``: ``x`` devices as requests the policy places one after the other, each as large as the
    largest free block of the kind left (whole free nodes fill first; never more requests than devices)."""
    left = x
    while left > 0:
        usable = st.model_mask(model) & np.isin(st.site, list(site))[:, None] & (st.dev_free_milli == MILLI)
        block = int(usable.sum(axis=1).max(initial=0))
        n = max(1, min(left, block))
        yield PlacementRequest(num_devices=n, allowed_models=model, allowed_sites=site)
        left -= n


# --------------------------------------------------------------------------- words
def fmt_p(p: Decimal) -> str:
    """P without trailing zeros, at most 4 places (the catalog's precision)."""
    q = p.quantize(Decimal("0.0001")).normalize()
    return f"{q:f}"


def _money(d: Decimal) -> str:
    return f"{d.quantize(Decimal('0.01')):f}"


def _part(kind: Kind, x: int) -> str:
    return f"{x} x {kind.model} at {kind.site} ({fmt_p(kind.p * x)} P, {_money(kind.price_per_p)}/P-hour)"


def _reason(spec: OrderSpec, mix: Mix, dom: _Domain, nodes: int, notes: list[str]) -> str:
    parts = " + ".join(_part(k, x) for k, x in mix.take)
    where = f"topology {spec.topology.value}: {dom.label}"
    head = (f"flops {fmt_p(spec.p)} P -> {parts} = {fmt_p(mix.p)} P on {nodes} node{'s' if nodes != 1 else ''} "
            f"({where})")
    per_p = mix.price / spec.p
    why = (f"the cheapest whole-device mix covering {fmt_p(spec.p)} P: {_money(mix.price)}/hour, "
           f"{_money(per_p)} per P-hour ordered")
    single = best_single_model(dom.kinds, spec.p)
    if len(mix.models) > 1:
        why = f"combined {' + '.join(mix.models)} because {why}"
        if single is not None:
            k1 = single.take[0][0]
            why += f"; one model alone costs more: {single.devices} x {k1.model} at {_money(single.price)}/hour"
        else:
            why += "; no single model has that much free here"
    elif len({k.site for k, _ in mix.take}) > 1:
        why = f"combined {len({k.site for k, _ in mix.take})} sites because {why}"
    if not mix.exact:
        why += " (best found within the search budget)"
    out = f"{head}; {why}"
    if notes:
        out += "; " + "; ".join(notes)
    return out


def _blocks(domains: Sequence[_Domain]) -> tuple[_Domain | None, dict[str, tuple[Decimal, int, str]]]:
    """The largest domain, and per model its largest amount in one domain: (P, devices, domain label)."""
    biggest = max(domains, key=lambda d: d.p, default=None)
    per_model: dict[str, tuple[Decimal, int, str]] = {}
    for d in domains:
        acc: dict[str, tuple[Decimal, int]] = {}
        for k in d.kinds:
            p, n = acc.get(k.model, (Decimal(0), 0))
            acc[k.model] = (p + k.p * k.count, n + k.count)
        for model, (p, n) in acc.items():
            if model not in per_model or p > per_model[model][0]:
                per_model[model] = (p, n, d.label)
    return biggest, per_model


def _describe(d: _Domain) -> str:
    by_model: dict[str, int] = defaultdict(int)
    for k in d.kinds:
        by_model[k.model] += k.count
    return " + ".join(f"{n} x {m}" for m, n in by_model.items())


def _devices(n: int) -> str:
    return f"{n} device{'s' if n != 1 else ''}"


def _refusal(spec: OrderSpec, domains: Sequence[_Domain]) -> str:
    biggest, per_model = _blocks(domains)
    head = f"no room for {fmt_p(spec.p)} P under topology {spec.topology.value}"
    if biggest is None:
        return f"{head}: nothing the order's filters allow is free now (largest free block: 0 P)"
    if spec.topology is Topology.ANY:
        head += (f": every free device the filters allow adds up to {fmt_p(biggest.p)} P "
                 f"({_describe(biggest)})")
    else:
        head += (f": the largest free block one {spec.topology.value} offers is {fmt_p(biggest.p)} P "
                 f"({_describe(biggest)} {biggest.label})")
    ranked = sorted(per_model.items(), key=lambda kv: (-kv[1][0], kv[0]))
    if spec.topology is Topology.ANY:
        rest = ", ".join(f"{m} {fmt_p(p)} P ({_devices(n)})" for m, (p, n, _l) in ranked)
        return f"{head}; free per model: {rest}"
    rest = ", ".join(f"{m} {fmt_p(p)} P ({_devices(n)} {label})" for m, (p, n, label) in ranked)
    return f"{head}; largest block per model: {rest}"


def check_never_fits(snap: Snapshot, spec: OrderSpec, models: frozenset[int] | None,
                     sites: frozenset[int] | None) -> None:
    """422 for a ``flops`` order larger than the biggest domain of the fleet's shape (every device
    the filters allow, busy or not): it can never be granted under its topology."""
    domains = _domains(snap, spec.topology, _counts(snap, models, sites, shape=True, prices=None), None)
    biggest = max(domains, key=lambda d: d.p, default=None)
    if biggest is None or biggest.p >= spec.p:
        return
    if spec.topology is Topology.ANY:
        where = f"the devices the order's filters allow add up to {fmt_p(biggest.p)} P ({_describe(biggest)})"
    else:
        where = (f"no {spec.topology.value} can ever hold {fmt_p(spec.p)} P of the devices the order's filters "
                 f"allow: the largest has {fmt_p(biggest.p)} P ({_describe(biggest)} {biggest.label})")
        if spec.topology is Topology.NODE:
            where += "; topology fabric or any may combine nodes"
        else:
            where += "; topology any may combine fabrics and sites"
    raise ValidationError(f"p {fmt_p(spec.p)} can never fit: {where}", field="p", allowed_max=fmt_p(biggest.p),
                          topology=spec.topology.value)


__all__ = ["Granted", "Prices", "Refused", "check_never_fits", "fmt_p", "list_prices", "place", "tenant_prices"]

"""From the database to the placement engine and back.

:func:`snapshot` builds a :class:`~suanli.scheduler.FleetState` of what is free over a time
window (capacity of available nodes minus live allocations overlapping the window; devices
whose list price is missing or below the supplier's floor are not offered). :func:`plan` turns a
validated order into engine requests and returns the device grants.

Resource rules (documented in docs/orders.md):
- a ``gpu`` lease takes a share of the node's CPU and memory proportional to its devices;
- a ``slice`` takes its dominant share: ``max(compute %, memory ÷ device memory)`` of one device,
  and is priced by that share;
- ``flops``: candidates (model, site) are tried cheapest list price per P first, ties to the lower
  energy cost per P (TDP × PUE × power price ÷ P); each needs ⌈P ÷ device P⌉ devices.
- ``max_rtt_ms``: only sites whose measured round-trip time is at most the bound
  (:mod:`suanli.domain.nearness`; the snapshot carries each site's measurement).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy.orm import Session

from suanli.domain.catalog import Catalog
from suanli.domain.fleet import NodeState, energy_cost_per_p_hour
from suanli.domain.leases import OrderSpec, ProductForm, RejectReason, Topology
from suanli.domain.nearness import SiteRtt, describe, ms_text, sites_within
from suanli.domain.prices import PriceBook
from suanli.errors import ValidationError
from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest
from suanli.service import typical_mix
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store import site_rtt as site_rtt_store
from suanli.store.leases import DeviceInfo

MILLI = 1000


@dataclass
class Snapshot:
    state: FleetState
    devices: list[DeviceInfo]
    slot_device: dict[tuple[int, int], DeviceInfo]
    """(node index, slot) -> device"""
    node_names: list[str]
    sites: list[str]
    regions: dict[str, set[str]]
    """region -> its sites"""
    fabrics: list[str]
    catalog: Catalog
    book: PriceBook
    at: datetime
    version_of: dict[int, int] | None = None
    """device id -> alloc_version as this transaction sees it (built from ``devices`` on first use)"""
    site_rtt: dict[str, SiteRtt] = field(default_factory=dict)
    """site -> its measured round-trip time when the snapshot was read (sites without one are absent)"""

    def versions(self, grants: Sequence[tuple[int, int, int]]) -> dict[int, int]:
        by_id = self._version_of()
        return {g[0]: by_id[g[0]] for g in grants}

    def claimed(self, claims: Mapping[int, int]) -> None:
        """The claim of these device versions committed in this transaction: each moved one up
        (the placement loop places several orders on one snapshot, see service.order_loop)."""
        by_id = self._version_of()
        for device_id, seen in claims.items():
            by_id[device_id] = seen + 1

    def _version_of(self) -> dict[int, int]:
        if self.version_of is None or len(self.version_of) != len(self.devices):
            self.version_of = {d.id: d.version for d in self.devices}
        return self.version_of


@dataclass(frozen=True)
class Plan:
    grants: tuple[tuple[int, int, int], ...]
    """(device id, milli, memory MiB)"""
    reason: str


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    message: str


def snapshot(p: Platform, s: Session, start: datetime, end: datetime | None,
             exclude_lease: str | None = None, only: Mapping[int, int] | None = None) -> Snapshot:
    """``only``: device id -> milli free (a reservation's devices less what is drawn on them, see
    :mod:`suanli.service.reservations`); every other device is not offered."""
    devices = lease_store.device_versions(s)  # versions first: see store.leases
    busy = lease_store.busy_allocations(s, start, end, exclude_lease=exclude_lease)
    cat = p.catalog(s)
    book = price_book(p, s)
    floors = fleet_store.floors_by_key(s)
    sites = {x.name: x for x in fleet_store.list_sites(s)}
    used: dict[int, int] = {}
    for b in busy:
        used[b.device_id] = used.get(b.device_id, 0) + b.milli
    node_names: list[str] = []
    node_idx: dict[str, int] = {}
    per_node: list[list[DeviceInfo]] = []
    for d in devices:
        if d.node not in node_idx:
            node_idx[d.node] = len(node_names)
            node_names.append(d.node)
            per_node.append([])
        per_node[node_idx[d.node]].append(d)
    n = len(node_names)
    width = max([len(x) for x in per_node] + [1])
    models = cat.names()
    mcode = {m: i for i, m in enumerate(models)}
    site_names = sorted(sites)
    scode = {x: i for i, x in enumerate(site_names)}
    fabric_names = sorted({d.fabric for d in devices})
    fcode = {x: i for i, x in enumerate(fabric_names)}
    dev_model = np.full((n, width), -1, np.int16)
    dev_free = np.zeros((n, width), np.int32)
    dev_cost = np.zeros((n, width), np.float64)
    cpu_total = np.zeros(n, np.int64)
    cpu_free = np.zeros(n, np.int64)
    site_arr = np.zeros(n, np.int32)
    fabric_arr = np.zeros(n, np.int32)
    slot_device: dict[tuple[int, int], DeviceInfo] = {}
    for i, devs in enumerate(per_node):
        first = devs[0]
        site_arr[i], fabric_arr[i] = scode[first.site], fcode[first.fabric]
        cpu_total[i] = first.cpu_cores * MILLI
        offered = first.node_state == NodeState.AVAILABLE.value
        free_sum = 0
        for d in devs:
            slot_device[(i, d.slot)] = d
            dev_model[i, d.slot] = mcode[d.model]
            model = cat.get(d.model)
            rate = book.rate_at(d.model, d.site, start)
            floor = floors.get((d.supplier, d.model))
            sellable = offered and rate is not None and (floor is None or rate >= floor)
            free = max(0, MILLI - used.get(d.id, 0)) if sellable else 0
            if only is not None:
                free = only.get(d.id, 0) if offered else 0
            dev_free[i, d.slot] = free
            free_sum += free
            if rate is not None:
                dev_cost[i, d.slot] = float(rate / model.p + energy_cost_per_p_hour(model, sites[d.site]))
        cpu_free[i] = cpu_total[i] * free_sum // (len(devs) * MILLI)
    state = FleetState(node_ids=node_names, cpu_total_milli=cpu_total, cpu_free_milli=cpu_free,
                       mem_free_mib=np.full(n, 1 << 40, np.int64), dev_model=dev_model, dev_free_milli=dev_free,
                       model_names=models, fabric=fabric_arr, site=site_arr, dev_cost=dev_cost)
    regions: dict[str, set[str]] = {}
    for site_obj in sites.values():
        regions.setdefault(site_obj.region, set()).add(site_obj.name)
    return Snapshot(state, devices, slot_device, node_names, site_names, regions, fabric_names, cat, book, start,
                    site_rtt=measured_rtts(p, s))


def measured_rtts(p: Platform, s: Session) -> dict[str, SiteRtt]:
    """Each site's measured round-trip time now (agents heard from within ``agent_down_s``)."""
    return site_rtt_store.measured_site_rtts(s, p.clock.now() - timedelta(seconds=p.settings.agent_down_s))


# --------------------------------------------------------------------------- order -> requests
def _filters(snap: Snapshot, spec: OrderSpec) -> tuple[
        frozenset[int] | None, frozenset[int] | None]:
    cat = snap.catalog
    models: set[str] | None = None
    if spec.models:
        models = set()
        for m in spec.models:
            if m not in cat:
                raise ValidationError(f"unknown model {m!r}; known: {', '.join(cat.names())}", field="models")
            models.add(cat.get(m).name)
    if spec.vendors or spec.min_memory_gib:
        keep = {m.name for m in cat if (not spec.vendors or m.vendor.value in spec.vendors)
                and m.memory_gib >= spec.min_memory_gib}
        models = keep if models is None else models & keep
    sites: set[str] | None = None
    if spec.sites:
        unknown = [x for x in spec.sites if x not in snap.sites]
        if unknown:
            raise ValidationError(f"unknown sites {unknown}; sites: {', '.join(snap.sites)}", field="sites")
        sites = set(spec.sites)
    if spec.regions:
        unknown = [r for r in spec.regions if r not in snap.regions]
        if unknown:
            raise ValidationError(f"unknown regions {unknown}; regions: {', '.join(sorted(snap.regions))}",
                                  field="regions")
        in_regions = set().union(*(snap.regions[r] for r in spec.regions))
        sites = in_regions if sites is None else sites & in_regions
    if spec.max_rtt_ms is not None:
        near = sites_within(snap.site_rtt, spec.max_rtt_ms)
        sites = near if sites is None else sites & near
    mnames = snap.state.model_names
    mset = None if models is None else frozenset(i for i, m in enumerate(mnames) if m in models)
    sset = None if sites is None else frozenset(i for i, x in enumerate(snap.sites) if x in sites)
    return mset, sset


def _node_capacity(snap: Snapshot, allowed_models: frozenset[int] | None, allowed_sites: frozenset[int] | None
                   ) -> np.ndarray:
    """(N,) devices per node of an allowed model at an allowed site, ignoring what is busy."""
    st = snap.state
    mask = st.model_mask(allowed_models)
    count: np.ndarray = mask.sum(axis=1)
    if allowed_sites is not None:
        count = np.where(np.isin(st.site, list(allowed_sites)), count, 0)
    return count


def _cpu_share(snap: Snapshot, node: int, milli: int) -> int:
    st = snap.state
    return int(st.cpu_total_milli[node] * milli // (int(st.n_devices[node]) * MILLI))


def plan(p: Platform, snap: Snapshot, spec: OrderSpec, seed: str) -> Plan | Rejection:
    """Place one order on the snapshot (mutating it). Impossible shapes are a ValidationError."""
    policy = typical_mix.placement_policy(p)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))
    models, sites = _filters(snap, spec)
    if models is not None and not models:
        return Rejection(RejectReason.NOT_ALLOWED, "no accelerator model meets the order's model/vendor/memory filters")
    if sites is not None and not sites and spec.max_rtt_ms is not None:
        return Rejection(RejectReason.NOT_ALLOWED, _too_far(snap, spec))
    cap = _node_capacity(snap, models, sites)
    if cap.max(initial=0) == 0:
        return Rejection(RejectReason.NOT_ALLOWED, "the fleet has no devices matching the order's filters")
    _check_shape(snap, spec, models, sites, cap)
    if spec.form is ProductForm.GPU:
        return _one(policy, snap, rng, [PlacementRequest(num_devices=spec.quantity, allowed_models=models,
                                                          allowed_sites=sites)], proportional=True)
    if spec.form is ProductForm.SLICE:
        return _slice(policy, snap, rng, spec, models, sites)
    if spec.form is ProductForm.SERVER:
        return _one(policy, snap, rng, [PlacementRequest(whole_node=True, allowed_models=models, allowed_sites=sites)]
                    * spec.quantity, proportional=True)
    if spec.form is ProductForm.CLUSTER:
        return _one(policy, snap, rng, [PlacementRequest(gang_nodes=spec.quantity, allowed_models=models,
                                                         allowed_sites=sites)], proportional=True)
    return _flops(policy, snap, rng, spec, models, sites)


def check_order(snap: Snapshot, spec: OrderSpec) -> None:
    """Raise the :class:`ValidationError` that :func:`plan` would raise for an order that can never
    fit this fleet, whatever is busy (an unknown model, site or region; more devices than any node
    has; more servers than match; a slice larger than any device). Reads only the fleet's shape
    (models, sites, fabrics), not what is free: any snapshot of the same fleet gives the same answer.
    One exception: with ``max_rtt_ms``, no site measured that near *now* is a 422 too (naming the
    measured sites); callers check such orders on a fresh snapshot."""
    models, sites = _filters(snap, spec)
    if models is not None and not models:
        return  # recorded as a rejected order (not_allowed), as plan() does
    if sites is not None and not sites and spec.max_rtt_ms is not None:
        raise ValidationError(_too_far(snap, spec), field="max_rtt_ms",
                              measured={r.site: ms_text(r.rtt_ms) for r in snap.site_rtt.values()})
    cap = _node_capacity(snap, models, sites)
    if cap.max(initial=0) == 0:
        return
    _check_shape(snap, spec, models, sites, cap)


def _too_far(snap: Snapshot, spec: OrderSpec) -> str:
    among = " among the order's sites/regions" if spec.sites or spec.regions else ""
    return (f"no site{among} has a measured round-trip time of at most {ms_text(spec.max_rtt_ms or Decimal(0))} ms (max_rtt_ms); "
            f"{describe(snap.site_rtt)}")


def _check_shape(snap: Snapshot, spec: OrderSpec, models: frozenset[int] | None, sites: frozenset[int] | None,
                 cap: np.ndarray) -> None:
    st = snap.state
    if spec.form is ProductForm.GPU and spec.quantity > cap.max():
        raise ValidationError(
            f"no node can hold {spec.quantity} devices of the requested kind: the largest has {int(cap.max())}; "
            "rent a cluster for more", field="quantity", allowed_max=int(cap.max()))
    if spec.form is ProductForm.SLICE:
        mem_ok = frozenset(i for i, m in enumerate(st.model_names)
                           if snap.catalog.get(m).memory_gib * 1024 >= spec.memory_mib)
        allowed = mem_ok if models is None else models & mem_ok
        if not allowed or _node_capacity(snap, allowed, sites).max(initial=0) == 0:
            raise ValidationError(f"no device in the fleet has {spec.memory_mib} MiB of memory for a slice",
                                  field="memory_mib")
    if spec.form is ProductForm.SERVER:
        nodes = int((cap > 0).sum())
        if spec.quantity > nodes:
            raise ValidationError(f"the fleet has only {nodes} matching servers; asked for {spec.quantity}",
                                  field="quantity")
    if spec.form is ProductForm.CLUSTER:
        biggest = max((int(((cap > 0) & (st.fabric == f)).sum()) for f in np.unique(st.fabric)), default=0)
        if spec.quantity > biggest:
            raise ValidationError(f"no fabric domain has {spec.quantity} matching nodes; the largest has {biggest}",
                                  field="quantity", allowed_max=biggest)


def plan_devices(p: Platform, snap: Snapshot, model: str, count: int, seed: str) -> Plan | Rejection:
    """Place ``count`` whole devices of ``model`` anywhere in the fleet, all or nothing (a term
    plan's reservation; the policy packs them as it packs any order)."""
    if model not in snap.catalog:
        raise ValidationError(f"unknown model {model!r}; known: {', '.join(snap.catalog.names())}", field="model")
    code = snap.state.model_names.index(snap.catalog.get(model).name)
    present = int((snap.state.dev_model == code).sum())
    if count > present:
        return Rejection(RejectReason.NO_CAPACITY, f"the fleet has {present} {model} devices in all; asked for {count}")
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))
    return _one(typical_mix.placement_policy(p), snap, rng,
                [PlacementRequest(num_devices=1, allowed_models=frozenset({code}))] * count, proportional=True)


def _slice(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec,
           models: frozenset[int] | None, sites: frozenset[int] | None) -> Plan | Rejection:
    st = snap.state
    mem_ok = frozenset(i for i, m in enumerate(st.model_names)
                       if snap.catalog.get(m).memory_gib * 1024 >= spec.memory_mib)
    allowed = mem_ok if models is None else models & mem_ok  # not empty: _check_shape refused that
    # dominant share differs per model (memory share depends on device memory): try models by share
    options = []
    for code in sorted(allowed):
        mem_mib = snap.catalog.get(st.model_names[code]).memory_gib * 1024
        milli = max(spec.milli, math.ceil(spec.memory_mib * MILLI / mem_mib))
        options.append((milli, code))
    last: Rejection | None = None
    in_sites = None if sites is None else np.isin(st.site, list(sites))[:, None]
    ordered = sorted(options)
    for k, (milli, code) in enumerate(ordered):
        room = (st.dev_model == code) & (st.dev_free_milli >= milli)
        if k < len(ordered) - 1 and not (room if in_sites is None else room & in_sites).any():
            continue  # no device of this model has the share free: the policy could not place it
        out = _one(policy, snap, rng, [PlacementRequest(num_devices=1, device_milli=milli,
                                                        allowed_models=frozenset({code}), allowed_sites=sites)],
                   proportional=True, memory_mib=spec.memory_mib)
        if isinstance(out, Plan):
            return out
        last = out
    assert last is not None
    return last


def _flops(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec,
           models: frozenset[int] | None, sites: frozenset[int] | None) -> Plan | Rejection:
    """Cheapest price per P first, then lower energy per P; each candidate is one (model, site)."""
    st = snap.state
    candidates: list[tuple[float, float, int, int, int]] = []
    for code, name in enumerate(st.model_names):
        if models is not None and code not in models:
            continue
        m = snap.catalog.get(name)
        k = math.ceil(spec.p / m.p)
        for sc, site in enumerate(snap.sites):
            if sites is not None and sc not in sites:
                continue
            present = (st.dev_model == code) & (st.site[:, None] == sc)
            if not present.any():
                continue
            rate = snap.book.rate_at(name, site, snap.at)
            if rate is None:
                continue
            cost = st.dev_cost[present].min() if st.dev_cost is not None else 0.0
            candidates.append((float(rate / m.p), float(cost), code, sc, k))
    if not candidates:
        return Rejection(RejectReason.NOT_ALLOWED, "no priced devices meet the flops order's constraints")
    candidates.sort()
    reasons = []
    for price_per_p, _cost, code, sc, k in candidates:
        one, at_site = frozenset({code}), frozenset({sc})
        if spec.topology is Topology.NODE:
            reqs = [PlacementRequest(num_devices=k, allowed_models=one, allowed_sites=at_site)]
        elif spec.topology is Topology.FABRIC:
            reqs = [PlacementRequest(spread_devices=k, allowed_models=one, allowed_sites=at_site)]
        else:
            reqs = [PlacementRequest(num_devices=1, allowed_models=one, allowed_sites=at_site)] * k
        out = _one(policy, snap, rng, reqs, proportional=True)
        if isinstance(out, Plan):
            label = f"flops {spec.p} P -> {k} x {st.model_names[code]} at {snap.sites[sc]} ({price_per_p:.2f}/P-hour); "
            return Plan(out.grants, label + out.reason)
        reasons.append(f"{k} x {st.model_names[code]} at {snap.sites[sc]}: {out.message}")
    return Rejection(RejectReason.NO_CAPACITY, "no candidate has room: " + "; ".join(reasons[:4]))


def _one(policy: object, snap: Snapshot, rng: np.random.Generator, reqs: Sequence[PlacementRequest], *,
         proportional: bool, memory_mib: int = 0) -> Plan | Rejection:
    """Place every request in turn on a copy; all or nothing."""
    st = snap.state.copy()
    grants: list[tuple[int, int, int]] = []
    reasons: list[str] = []
    for req in reqs:
        decision = policy.place(st, req, rng)  # type: ignore[attr-defined]
        if isinstance(decision, NoFit):
            return Rejection(RejectReason.NO_CAPACITY, decision.reason)
        if proportional:
            decision = _with_cpu(snap, decision)
        st.apply(decision)
        reasons.append(decision.reason)
        for i, node in enumerate(decision.nodes):
            for slot, milli in zip(decision.devices[i], decision.device_milli[i], strict=True):
                grants.append((snap.slot_device[(node, slot)].id, milli, memory_mib))
    snap.state = st
    return Plan(tuple(grants), "; ".join(reasons))


def _with_cpu(snap: Snapshot, d: Placement) -> Placement:
    cpu = tuple(_cpu_share(snap, n, sum(d.device_milli[i])) for i, n in enumerate(d.nodes))
    return Placement(d.nodes, d.devices, d.device_milli, cpu, d.mem_mib, d.score, d.reason, d.nic_mbps, d.disk_gib)

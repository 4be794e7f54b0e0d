"""From the database to the placement engine and back.

:func:`snapshot` builds a :class:`~suanli.scheduler.FleetState` of what is free over a time
window (capacity of available nodes minus live allocations overlapping the window; devices
whose list price is missing or below the supplier's floor are not offered). :func:`plan` turns a
validated order into engine requests and returns the device grants.

Resource rules (documented in docs/orders.md):
- a ``gpu`` lease takes a share of the node's CPU and memory proportional to its devices;
- a ``slice`` takes its dominant share: ``max(compute %, memory ÷ device memory)`` of one device,
  and is priced by that share; on MIG models a MIG profile's, on Ascend a vNPU template's, placed only
  where the model can enforce it (:mod:`suanli.service.slicing`, docs/slices.md);
- ``flops``: the cheapest mix of whole devices covering P that the topology allows (models and
  sites combined within one node, one fabric or anywhere): :mod:`suanli.service.flops_mix`.
- ``max_rtt_ms``: only sites whose measured round-trip time is at most the bound
  (:mod:`suanli.domain.nearness`; the snapshot carries each site's measurement).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy.orm import Session

from suanli.domain.catalog import Catalog
from suanli.domain.fleet import NodeState, Site, energy_cost_per_p_hour
from suanli.domain.leases import OrderSpec, ProductForm, RejectReason
from suanli.domain.nearness import SiteRtt, describe, ms_text, sites_within
from suanli.domain.oversub import (
    BurstableTerms,
    Factor,
    SliceClass,
    burstable_enforcement,
    burstable_mechanism,
    charge_milli,
    pct_text,
)
from suanli.domain.prices import PriceBook
from suanli.domain.shapes import Hold
from suanli.domain.slicing import Mechanism
from suanli.errors import ValidationError
from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest
from suanli.service import flops_mix, oversub, shapes, slice_mixing, slicing, typical_mix
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store import site_rtt as site_rtt_store
from suanli.store import slices as slice_store
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
    site_info: dict[str, Site] = field(default_factory=dict)
    """FLOPS: site name -> the site (PUE, power price: a flops order's energy cost)"""
    pool: np.ndarray | None = None
    """OVERSUB: (N, D) bool, devices in the burstable pool over the window (None: none)."""
    factors: list[Factor] = field(default_factory=list)
    """OVERSUB: every oversubscription factor row (:func:`suanli.service.oversub.offered_at`)."""
    slice_mechanisms: frozenset[Mechanism] = frozenset()
    """SLICES: what the backend enforces slices with (:func:`suanli.service.slicing.mechanisms`)."""
    mig_taken: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """SLICES: device id -> (start slot, span) of the MIG instances held over the window."""
    mixing: slice_mixing.Mixing = field(default_factory=slice_mixing.empty)
    """MIXING: the mechanism classes of the slices on each device over the window (docs/slices.md)."""
    host: shapes.HostView | None = None
    """SHAPES: per node, host capacity and what is free of it (:func:`suanli.service.shapes.host_view`)."""
    mix: typical_mix.Mix | None = None
    """The typical requests fgd+ measures fragmentation against, learnt in the snapshot's own transaction
    (none: learnt at the first plan, on a connection of its own)."""

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
    holds: tuple[Hold, ...] = ()
    """SHAPES: a ``cpu`` instance's host hold (device plans: :func:`suanli.service.shapes.holds_for`)."""
    burstable: BurstableTerms | None = None
    """OVERSUB: a burstable slice's terms (its grant's milli is the capacity charge)."""
    slice: slicing.SlicePlan | None = None
    """SLICES: how the slice is enforced and its MIG instance (:func:`suanli.service.slicing.record`)."""


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
    host = shapes.host_view(s, per_node, start, end, exclude_lease=exclude_lease, drawing=only is not None)
    state = FleetState(node_ids=node_names, cpu_total_milli=cpu_total,
                       cpu_free_milli=cpu_free if host.cpu_free is None else host.cpu_free,
                       mem_free_mib=host.mem_free, dev_model=dev_model, dev_free_milli=dev_free,
                       model_names=models, fabric=fabric_arr, site=site_arr, dev_cost=dev_cost,
                       nic_free_mbps=host.nic_free, disk_free_gib=host.disk_free)
    regions: dict[str, set[str]] = {}
    for site_obj in sites.values():
        regions.setdefault(site_obj.region, set()).add(site_obj.name)
    pool_ids, factors = oversub.pool_state(s, start, end)  # OVERSUB: docs/slices.md "Oversubscription"
    pool = None
    if pool_ids:
        pool = np.zeros((n, width), bool)
        for (i, slot), d in slot_device.items():
            pool[i, slot] = d.id in pool_ids
    return Snapshot(state, devices, slot_device, node_names, site_names, regions, fabric_names, cat, book, start,
                    site_rtt=measured_rtts(p, s), pool=pool, host=host, factors=factors, site_info=sites,
                    slice_mechanisms=slicing.mechanisms(p),
                    mig_taken={k: list(v) for k, v in
                               slice_store.busy_instances(s, start, end, exclude_lease=exclude_lease).items()},
                    mixing=slice_mixing.Mixing.read(s, start, end, exclude_lease, slot_device, (n, width)),
                    mix=typical_mix.current_mix(p, s))


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


def plan(p: Platform, snap: Snapshot, spec: OrderSpec, seed: str, *,
         prices: flops_mix.Prices | None = None) -> Plan | Rejection:
    """Place one order on the snapshot (mutating it). Impossible shapes are a ValidationError.
    ``prices``: the ordering tenant's device-hour rates (:func:`flops_mix.tenant_prices`) that a
    ``flops`` order's mix is chosen by; the list price when None."""
    policy = typical_mix.placement_policy(p, snap.mix)
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
    shapes.begin(snap, spec)  # SHAPES: the host resources it asks (docs/orders.md "Custom shapes")
    if spec.form is ProductForm.CPU:
        got = shapes.place_cpu(policy, snap, rng, spec, sites)
        return Rejection(RejectReason.NO_CAPACITY, got) if isinstance(got, str) else Plan((), got[1], holds=(got[0],))
    if spec.form is ProductForm.GPU:
        return _one(policy, snap, rng, [PlacementRequest(num_devices=spec.quantity, allowed_models=models,
                                                          allowed_sites=sites)], proportional=True)
    if spec.form is ProductForm.SLICE and spec.slice_class is SliceClass.BURSTABLE:
        return _burstable(policy, snap, rng, spec, models, sites)
    if spec.form is ProductForm.SLICE:
        return _slice(policy, snap, rng, spec, models, sites)
    if spec.form is ProductForm.SERVER:
        return _one(policy, snap, rng, [PlacementRequest(whole_node=True, allowed_models=models, allowed_sites=sites)]
                    * spec.quantity, proportional=True)
    if spec.form is ProductForm.CLUSTER:
        return _one(policy, snap, rng, [PlacementRequest(gang_nodes=spec.quantity, allowed_models=models,
                                                         allowed_sites=sites)], proportional=True)
    return _flops(policy, snap, rng, spec, models, sites, prices)


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
    if spec.form is ProductForm.FLOPS:
        flops_mix.check_never_fits(snap, spec, models, sites)


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
        if spec.slice_class is not SliceClass.BURSTABLE:  # SLICES: refuse what cannot be enforced (422)
            _slice_options(snap, spec, allowed, sites)
        if spec.slice_class is SliceClass.BURSTABLE and not _burstable_options(snap, spec, allowed, sites):
            sold = sorted({f"{f.model} at {f.site}" for f in oversub.in_force(snap.factors, snap.at) if f.offered})
            raise ValidationError("no burstable slice is offered on the order's models and sites; burstable "
                                  f"slices are sold on: {', '.join(sold) or 'none (the operator sets no factor)'}",
                                  field="slice_class", offered=sold)
    if spec.form is ProductForm.SERVER:
        nodes = int((cap > 0).sum())
        if spec.quantity > nodes:
            raise ValidationError(f"the fleet has only {nodes} matching servers; asked for {spec.quantity}",
                                  field="quantity")
    shapes.check_shape(snap, spec, models, sites, cap)  # SHAPES: more than any node has
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
    shapes.begin(snap, None)
    return _one(typical_mix.placement_policy(p, snap.mix), snap, rng,
                [PlacementRequest(num_devices=1, allowed_models=frozenset({code}))] * count, proportional=True)


def _slice(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec,
           models: frozenset[int] | None, sites: frozenset[int] | None) -> Plan | Rejection:
    st = snap.state
    mem_ok = frozenset(i for i, m in enumerate(st.model_names)
                       if snap.catalog.get(m).memory_gib * 1024 >= spec.memory_mib)
    allowed = mem_ok if models is None else models & mem_ok  # not empty: _check_shape refused that
    # the size differs per model (memory share, MIG profile): try models by the share they take
    sized = {o.code: o.size for o in _slice_options(snap, spec, allowed, sites)}
    options = sorted((size.milli, code) for code, size in sized.items())
    last: Rejection | None = None
    in_sites = None if sites is None else np.isin(st.site, list(sites))[:, None]
    for k, (milli, code) in enumerate(options):
        size, name = sized[code], st.model_names[code]
        room = (st.dev_model == code) & (st.dev_free_milli >= milli)
        hidden = None
        if size.mechanism is Mechanism.MIG and size.profile:  # only devices where the profile has a free placement
            ids = {k2: d.id for k2, d in snap.slot_device.items()}
            hidden = (st.dev_model == code) & ~slicing.mig_mask(st.dev_model, code, name, size.profile, ids,
                                                                snap.mig_taken)
            room &= ~hidden
        mixed = snap.mixing.mask(size.enforcement)
        with_room = room.copy()  # MIXING: never beside slices of another mechanism (docs/slices.md)
        room &= ~mixed
        hidden = mixed if hidden is None else hidden | mixed
        if k < len(options) - 1 and not (room if in_sites is None else room & in_sites).any():
            continue  # no device of this model has the share free: the policy could not place it
        saved = snap.state.dev_free_milli[hidden].copy() if hidden is not None else None
        if hidden is not None:
            snap.state.dev_free_milli[hidden] = 0
        out = _one(policy, snap, rng, [PlacementRequest(num_devices=1, device_milli=milli,
                                                        allowed_models=frozenset({code}), allowed_sites=sites)],
                   proportional=True, memory_mib=size.memory_mib)
        if hidden is not None:
            snap.state.dev_free_milli[hidden] = saved
        if isinstance(out, Plan):
            sp = slicing.SlicePlan(size.enforcement, size.share_pct, size.memory_mib)
            if size.mechanism is Mechanism.MIG:
                sp.mig.append(slicing.place_mig(name, size, out.grants[0][0], snap.mig_taken))
            where = f"; enforced by {sp.enforcement}" + (f" at memory slice {sp.mig[0][2]}" if sp.mig else "")
            snap.mixing.placed(out.grants[0][0], sp.enforcement)
            return dataclasses.replace(out, reason=out.reason + where, slice=sp)
        shut = mixed & (with_room if in_sites is None else with_room & in_sites)
        last = dataclasses.replace(out, message=snap.mixing.explain(out.message, shut, name, size.enforcement))
    assert last is not None
    return last


def _slice_options(snap: Snapshot, spec: OrderSpec, allowed: frozenset[int],
                   sites: frozenset[int] | None) -> list[slicing.Option]:
    """SLICES: the size on each allowed model present in the fleet (422 when none can enforce it)."""
    present = present_models(snap, allowed, sites)
    return slicing.slice_options(snap.catalog, snap.state.model_names, present or allowed, spec,
                                 snap.slice_mechanisms)


def present_models(snap: Snapshot, allowed: frozenset[int], sites: frozenset[int] | None) -> frozenset[int]:
    """The ``allowed`` model codes with at least one device at an allowed site (busy or not): one pass
    over the fleet, not one :func:`_node_capacity` per model (that was 4 % of the server's CPU in the
    order bench, in every order's admission; ORDERS2, docs/performance.md)."""
    st = snap.state
    here = st.present if sites is None else st.present & np.isin(st.site, list(sites))[:, None]
    return allowed & frozenset(int(c) for c in np.unique(st.dev_model[here]))


def _burstable_options(snap: Snapshot, spec: OrderSpec, allowed: frozenset[int], sites: frozenset[int] | None
                       ) -> list[tuple[int, int, int, int, Factor]]:
    """(capacity charge, model code, site code, sold milli, factor) of each (model, site) offering burstable
    slices; only models whose burstable slice can be enforced unless ``allow_unenforced`` (else a 422)."""
    st = snap.state
    out = []
    have = snap.slice_mechanisms
    enforceable = frozenset(c for c in allowed if burstable_mechanism(snap.catalog.get(st.model_names[c]), have))
    if not enforceable and not spec.allow_unenforced and allowed:
        names = ", ".join(sorted({st.model_names[c] for c in allowed}))
        can = sorted({m.name for m in snap.catalog if m.name in st.model_names and burstable_mechanism(m, have)})
        raise ValidationError(
            f"a burstable slice of {names} cannot be enforced on this backend (a burstable slice needs hami or mps; "
            f"the backend enforces: {', '.join(sorted(x.value for x in have)) or 'none'}); models that can: "
            f"{', '.join(can) or 'none'}; or send allow_unenforced: true", field="models", enforceable=can)
    for code in sorted(allowed if spec.allow_unenforced else enforceable):
        mem_mib = snap.catalog.get(st.model_names[code]).memory_gib * 1024
        mem_milli = math.ceil(spec.memory_mib * MILLI / mem_mib)
        for sc, site in enumerate(snap.sites):
            if sites is not None and sc not in sites:
                continue
            f = oversub.offered_at(snap.factors, site, st.model_names[code], snap.at)
            if f is not None:
                out.append((charge_milli(spec.milli, mem_milli, f.factor), code, sc, max(spec.milli, mem_milli), f))
    return sorted(out, key=lambda o: (o[0], o[1], o[2]))


def _burstable(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec,
               models: frozenset[int] | None, sites: frozenset[int] | None) -> Plan | Rejection:
    """A burstable slice (:mod:`suanli.domain.oversub`): on a device of the burstable pool or a free one,
    never beside guaranteed work; it takes its capacity charge, smallest charge first."""
    st = snap.state
    mem_ok = frozenset(i for i, m in enumerate(st.model_names)
                       if snap.catalog.get(m).memory_gib * 1024 >= spec.memory_mib)
    allowed = mem_ok if models is None else models & mem_ok
    pool = snap.pool if snap.pool is not None else np.zeros(st.dev_free_milli.shape, bool)
    guaranteed = (st.dev_free_milli < MILLI) & ~pool  # holds guaranteed work (or is not sellable)
    last: Rejection | None = None
    for charge, code, sc, sold, f in _burstable_options(snap, spec, allowed, sites):
        enforcement = burstable_enforcement(snap.catalog.get(st.model_names[code]), snap.slice_mechanisms)
        mixed = snap.mixing.mask(enforcement)  # MIXING: never beside slices of another mechanism
        # the pool's devices first: a free device joins the pool only when no pool device has room
        for avoid in (~pool, guaranteed):
            if (avoid is guaranteed and not (~pool & ~guaranteed).any()) or (avoid is not guaranteed and not pool.any()):
                continue
            out = _one(policy, snap, rng, [PlacementRequest(num_devices=1, device_milli=charge,
                                                            allowed_models=frozenset({code}),
                                                            allowed_sites=frozenset({sc}))],
                       proportional=True, memory_mib=spec.memory_mib, avoid=avoid | mixed)
            if isinstance(out, Plan):
                dev = next(d for d in snap.devices if d.id == out.grants[0][0])
                node = snap.node_names.index(dev.node)
                if snap.pool is None:
                    snap.pool = np.zeros(st.dev_free_milli.shape, bool)
                snap.pool[node, dev.slot] = True
                terms = BurstableTerms(sold, spec.milli, f.factor, f.discount_pct, f.id)
                sp = slicing.SlicePlan(enforcement, spec.share_pct, spec.memory_mib)
                snap.mixing.placed(out.grants[0][0], enforcement)
                why = (f"burstable {sold / 10:g} % sold, {charge / 10:g} % of the device charged (factor "
                       f"{pct_text(f.factor)}, {pct_text(f.discount_pct)} % off); ")
                return dataclasses.replace(out, reason=why + out.reason + f"; enforced by {sp.enforcement}",
                                           burstable=terms, slice=sp)
            last = out
    return last or Rejection(RejectReason.NO_CAPACITY, "no device of the burstable pool or free device has room "
                                                       "for the burstable slice")


def _flops(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec,
           models: frozenset[int] | None, sites: frozenset[int] | None,
           prices: flops_mix.Prices | None) -> Plan | Rejection:
    """The cheapest mix of models and sites the topology allows: :mod:`suanli.service.flops_mix`."""
    out = flops_mix.place(policy, snap, rng, spec, models, sites,
                          prices=prices or flops_mix.list_prices(snap), with_cpu=_with_cpu)
    if isinstance(out, flops_mix.Refused):
        return Rejection(out.reason, out.message)
    return Plan(out.grants, out.reason)


def _one(policy: object, snap: Snapshot, rng: np.random.Generator, reqs: Sequence[PlacementRequest], *,
         proportional: bool, memory_mib: int = 0, avoid: np.ndarray | None = None) -> Plan | Rejection:
    """Place every request in turn on a copy; all or nothing. ``avoid``: (N, D) devices not offered to
    these requests (default: the burstable pool, never offered to guaranteed work)."""
    st = snap.state.copy()
    avoid = snap.pool if avoid is None else avoid
    held = None
    if avoid is not None and avoid.any():
        held = st.dev_free_milli[avoid].copy()
        st.dev_free_milli[avoid] = 0
    grants: list[tuple[int, int, int]] = []
    reasons: list[str] = []
    for req in reqs:
        decision = policy.place(shapes.fit_view(snap, st, req), req, rng)  # type: ignore[attr-defined]
        if isinstance(decision, NoFit):
            return Rejection(RejectReason.NO_CAPACITY, decision.reason)
        if proportional:
            decision = _with_cpu(snap, decision)
        st.apply(decision)
        reasons.append(decision.reason)
        for i, node in enumerate(decision.nodes):
            for slot, milli in zip(decision.devices[i], decision.device_milli[i], strict=True):
                grants.append((snap.slot_device[(node, slot)].id, milli, memory_mib))
    if held is not None and avoid is not None:
        st.dev_free_milli[avoid] = held  # never placed on: as they were
    snap.state = st
    return Plan(tuple(grants), "; ".join(reasons))


def _with_cpu(snap: Snapshot, d: Placement) -> Placement:
    if snap.host is not None and snap.host.cpu_free is not None:
        return shapes.with_hold(snap, d)  # SHAPES: CPU, RAM, NIC and disk held, share or asked
    cpu = tuple(_cpu_share(snap, n, sum(d.device_milli[i])) for i, n in enumerate(d.nodes))
    return Placement(d.nodes, d.devices, d.device_milli, cpu, d.mem_mib, d.score, d.reason, d.nic_mbps, d.disk_gib)

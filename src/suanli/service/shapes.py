"""Custom shapes in placement, grants and prices (docs/orders.md "Custom shapes", docs/billing.md).

- :func:`host_view`: the placement snapshot's free host resources per node = capacity minus the
  holds of live leases over the window (:mod:`suanli.store.shapes`); a node that is not available
  offers none.
- :func:`fit_view`: before the policy places a request with devices, the nodes that could not hold
  the lease's host hold there (its share, or more when the order asks for more) are hidden from it.
- :func:`holds_for`: the holds a grant records (one per node), from its device grants and the
  order's shape; a ``cpu`` order's plan carries its hold itself (:func:`place_cpu`).
- :func:`check_shape`: a shape no node can hold is a 422 naming the largest node's figure.
- Resource list prices: set (operator only, effective now or later) and listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.fleet import NodeState
from suanli.domain.leases import OrderSpec, ProductForm
from suanli.domain.money import check_amount, check_currency
from suanli.domain.shapes import (
    SHAPE_FIELDS,
    UNIT_LABEL,
    Amounts,
    Hold,
    NodeCapacity,
    ResourcePrice,
    Shape,
    asked_amounts,
    hold_for,
    parse_kind,
)
from suanli.errors import NotFoundError, ValidationError
from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest
from suanli.service.platform import Platform
from suanli.service.prices import check_effective_from
from suanli.store import fleet as fleet_store
from suanli.store import shapes as store
from suanli.store.leases import DeviceInfo

if TYPE_CHECKING:
    from suanli.service.placement import Plan, Snapshot

MILLI = 1000


@dataclass
class HostView:
    """Per node index of the snapshot: its id, capacity and device count; and what the order being
    placed asks (set by :func:`suanli.service.placement.plan`)."""

    node_ids: list[int]
    caps: list[NodeCapacity]
    n_devices: list[int]
    cpu_free: np.ndarray | None
    mem_free: np.ndarray
    nic_free: np.ndarray | None
    disk_free: np.ndarray | None
    shape: Shape = field(default_factory=Shape)
    cpu_only: bool = False
    _caps: np.ndarray | None = None

    def cap_array(self) -> np.ndarray:
        """(4, N) int64: each node's CPU milli, RAM MiB, NIC Mbps and disk GiB (built once)."""
        if self._caps is None:
            self._caps = np.array([[c.cpu_milli for c in self.caps], [c.ram_mib for c in self.caps],
                                   [c.nic_mbps for c in self.caps], [c.disk_gib for c in self.caps]], np.int64
                                  ).reshape(4, len(self.caps))
        return self._caps


def host_view(s: Session, per_node: Sequence[Sequence[DeviceInfo]], start: datetime, end: datetime | None, *,
              exclude_lease: str | None, drawing: bool) -> HostView:
    """Free host resources per node over [start, end). ``drawing``: devices drawn on a term's
    reservation, whose host share the reservation already holds (host resources not constrained)."""
    hosts = store.node_hosts(s)
    n = len(per_node)
    ids, caps, ndev = [], [], []
    for devs in per_node:
        h = hosts[devs[0].node]
        ids.append(h.node_id)
        caps.append(h.capacity)
        ndev.append(len(devs))
    if drawing:
        return HostView(ids, caps, ndev, None, np.full(n, 1 << 40, np.int64), None, None)
    held = store.held_by_node(s, start, end, exclude_lease=exclude_lease)
    free = np.zeros((4, n), np.int64)
    for i, devs in enumerate(per_node):
        if devs[0].node_state != NodeState.AVAILABLE.value:
            continue
        c, taken = caps[i], held.get(ids[i], Amounts())
        free[:, i] = (max(0, c.cpu_milli - taken.cpu_milli), max(0, c.ram_mib - taken.ram_mib),
                      max(0, c.nic_mbps - taken.nic_mbps), max(0, c.disk_gib - taken.disk_gib))
    return HostView(ids, caps, ndev, free[0], free[1], free[2], free[3])


def begin(snap: Snapshot, spec: OrderSpec | None) -> None:
    """The order about to be placed on ``snap`` (None: a plan's reservation, no shape)."""
    _begin(snap, spec.shape if spec is not None else Shape(), spec is not None and spec.form is ProductForm.CPU)


def _begin(snap: Snapshot, shape: Shape, cpu_only: bool) -> None:
    if snap.host is not None:
        snap.host.shape, snap.host.cpu_only = shape, cpu_only


def _hold(host: HostView, node: int, milli: int) -> Hold:
    return hold_for(host.node_ids[node], host.caps[node], host.n_devices[node], milli, host.shape,
                    cpu_only=host.cpu_only, whole_node=milli >= host.n_devices[node] * MILLI)


def with_hold(snap: Snapshot, d: Placement) -> Placement:
    """The decision with what it holds of each node's host resources, for the snapshot's accounting
    (bounded by what is free: the database's rule is the enforcement)."""
    host, st = snap.host, snap.state
    if host is None or host.cpu_free is None:
        return d
    cpu, mem, nic, disk = [], [], [], []
    for i, n in enumerate(d.nodes):
        h = _hold(host, n, sum(d.device_milli[i])).held
        cpu.append(min(h.cpu_milli, int(st.cpu_free_milli[n])))
        mem.append(min(h.ram_mib, int(st.mem_free_mib[n])))
        nic.append(min(h.nic_mbps, int(st.nic_free_mbps[n])) if st.nic_free_mbps is not None else 0)
        disk.append(min(h.disk_gib, int(st.disk_free_gib[n])) if st.disk_free_gib is not None else 0)
    return Placement(d.nodes, d.devices, d.device_milli, tuple(cpu), tuple(mem), d.score, d.reason,
                     tuple(nic), tuple(disk))


def fit_view(snap: Snapshot, st: FleetState, req: PlacementRequest) -> FleetState:
    """``st``, or a copy in which the nodes that could not hold the request's host hold have no free
    device (so the policy never chooses them). Nothing is copied when every node can."""
    host = snap.host
    if host is None or host.cpu_free is None or not (req.num_devices or req.spread_devices or req.gang_nodes
                                                      or req.whole_node):
        return st
    per_node = max(req.num_devices, 1) * req.device_milli if not req.spread_devices else MILLI
    cap = host.cap_array()  # (4, N): CPU milli, RAM MiB, NIC Mbps, disk GiB
    whole = np.asarray(host.n_devices, np.int64) * MILLI
    milli = whole if (req.whole_node or req.gang_nodes) else np.minimum(per_node, whole)
    need = cap * milli // np.maximum(whole, 1)  # the share (floor), as hold_for computes it
    if not host.cpu_only:
        asked = asked_amounts(host.shape)
        need = np.maximum(need, np.array([[asked.cpu_milli], [asked.ram_mib], [asked.nic_mbps], [asked.disk_gib]]))
    short = (need[0] > st.cpu_free_milli) | (need[1] > st.mem_free_mib)
    if st.nic_free_mbps is not None:
        short |= need[2] > st.nic_free_mbps
    if st.disk_free_gib is not None:
        short |= need[3] > st.disk_free_gib
    bad = np.flatnonzero(short).tolist()
    if not bad:
        return st
    view = st.copy()
    view.dev_free_milli[bad] = 0
    view.touch(bad)
    return view


def holds_for(snap: Snapshot, plan: Plan, spec: OrderSpec | None) -> tuple[Hold, ...]:
    """The holds of a granted plan: a ``cpu`` plan's own, else one per node from its device grants."""
    return _holds(snap, plan, spec.shape if spec is not None else Shape(),
                  spec is not None and spec.form is ProductForm.CPU)


def stage_holds(s: Session, snap: Snapshot, lease_id: str, stored: Mapping[str, Any], plan: Plan, start: datetime,
                end: datetime | None) -> None:
    """A lease placed again (after a failure or a suspension): its holds from its stored order, staged
    for the flush of its allocations (:func:`suanli.store.leases.insert_allocations`)."""
    shape = Shape(**{k: int(stored[k]) for k in SHAPE_FIELDS if stored.get(k)})
    store.add_holds(s, lease_id, _holds(snap, plan, shape, stored.get("form") == ProductForm.CPU.value), start, end)


def _holds(snap: Snapshot, plan: Plan, shape: Shape, cpu_only: bool) -> tuple[Hold, ...]:
    if plan.holds:
        return plan.holds
    host = snap.host
    if host is None or host.cpu_free is None:
        return ()  # drawn on a reservation (never with a shape): its share is the reservation's
    _begin(snap, shape, cpu_only)
    index = {nid: i for i, nid in enumerate(host.node_ids)}
    by_id = {d.id: d for d in snap.devices}
    milli: dict[int, int] = {}
    for device_id, m, _mem in plan.grants:
        nid = by_id[device_id].node_id
        milli[nid] = milli.get(nid, 0) + m
    return tuple(_hold(host, index[nid], m) for nid, m in sorted(milli.items()))


def place_cpu(policy: object, snap: Snapshot, rng: np.random.Generator, spec: OrderSpec,
              sites: frozenset[int] | None) -> tuple[Hold, str] | str:
    """A CPU-only instance on the node the policy picks among those with the room (the snapshot
    takes it): (its hold, the reason), or why nothing has the room."""
    sh = spec.shape
    req = PlacementRequest(cpu_milli=sh.cpu_cores * MILLI, mem_mib=sh.ram_gib * 1024, nic_mbps=sh.nic_gbps * 1000,
                           disk_gib=sh.disk_gib, allowed_sites=sites)
    st = snap.state.copy()
    if st.nic_free_mbps is not None and st.disk_free_gib is not None:  # hide the nodes short of NIC or disk
        short = (st.nic_free_mbps < req.nic_mbps) | (st.disk_free_gib < req.disk_gib)
        st.cpu_free_milli[short] = 0
    decision = policy.place(st, req, rng)  # type: ignore[attr-defined]
    if isinstance(decision, NoFit):
        return (f"no node has {sh.cpu_cores} cores and {sh.ram_gib} GiB RAM"
                f"{f', {sh.nic_gbps} Gbps NIC' if sh.nic_gbps else ''}"
                f"{f', {sh.disk_gib} GiB disk' if sh.disk_gib else ''} free: {decision.reason}")
    node = decision.nodes[0]
    host = snap.host
    assert host is not None
    begin(snap, spec)
    hold = _hold(host, node, 0)
    real = snap.state.copy()
    real.apply(Placement((node,), ((),), ((),), (hold.held.cpu_milli,), (hold.held.ram_mib,), decision.score,
                         decision.reason, (hold.held.nic_mbps,) if real.nic_free_mbps is not None else (),
                         (hold.held.disk_gib,) if real.disk_free_gib is not None else ()))
    snap.state = real
    return hold, f"cpu instance on {snap.node_names[node]}: {decision.reason}"


def check_shape(snap: Snapshot, spec: OrderSpec, models: frozenset[int] | None, sites: frozenset[int] | None,
                cap: np.ndarray) -> None:
    """422 for a shape no node matching the order's filters can hold, naming the largest figure."""
    host = snap.host
    sh = spec.shape
    if host is None or not sh.asked:
        return
    nodes = [i for i in range(len(host.caps)) if cap[i] > 0]
    if not nodes:
        return
    tops = {"cpu_cores": max(host.caps[i].cpu_milli // MILLI for i in nodes),
            "ram_gib": max(host.caps[i].ram_mib // 1024 for i in nodes),
            "nic_gbps": max(host.caps[i].nic_mbps // 1000 for i in nodes),
            "disk_gib": max(host.caps[i].disk_gib for i in nodes)}
    units = {"cpu_cores": "cores", "ram_gib": "GiB of RAM", "nic_gbps": "Gbps of NIC", "disk_gib": "GiB of local disk"}
    for key, value in sh.as_dict().items():
        largest, unit = tops[key], units[key]
        if value > largest:
            among = " matching the order's filters" if (models is not None or sites is not None) else ""
            raise ValidationError(f"{key} {value}: more than any node{among} has: the largest has {largest} {unit}",
                                  field=key, allowed_max=largest)


def extras_of(holds: Sequence[Hold]) -> Amounts:
    out = Amounts()
    for h in holds:
        e = h.extra
        out = Amounts(out.cpu_milli + e.cpu_milli, out.ram_mib + e.ram_mib, out.nic_mbps + e.nic_mbps,
                      out.disk_gib + e.disk_gib)
    return out


# --------------------------------------------------------------------------- resource prices
def set_resource_price(p: Platform, actor: Principal, resource: str, amount: object, site: str | None = None,
                       effective_from: datetime | None = None, currency: str | None = None) -> dict[str, Any]:
    """A resource's list price (operator only), effective now or later, never earlier."""
    authorize(actor, Action.SET_PRICE)
    kind = parse_kind(resource)
    value = check_amount(amount, "amount")
    cur = check_currency(currency or p.settings.currency)
    if cur != p.settings.currency:
        raise ValidationError(f"currency {cur} is not the operator's ({p.settings.currency}); resource prices are "
                              "in the operator's currency", field="currency", allowed=[p.settings.currency])
    now = p.clock.now()
    eff = check_effective_from(effective_from, now)
    with p.tx() as s:
        if site is not None and site not in {x.name for x in fleet_store.list_sites(s)}:
            raise NotFoundError(f"no site {site!r}", site=site)
        price = ResourcePrice(kind, site, value, cur, eff)
        store.add_resource_price(s, price, now)
    return price_doc(price)


def price_doc(x: ResourcePrice) -> dict[str, Any]:
    return {"resource": x.resource.value, "unit": UNIT_LABEL[x.resource], "site": x.site, "amount": x.amount,
            "currency": x.currency, "effective_from": x.effective_from}


def list_resource_prices(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    authorize(actor, Action.READ_PRICES)
    with p.read() as s:
        return [price_doc(x) for x in store.list_resource_prices(s)]


def resource_prices(s: Session) -> list[ResourcePrice]:
    return store.list_resource_prices(s)


__all__ = ["HostView", "begin", "check_shape", "fit_view", "holds_for", "host_view", "list_resource_prices",
           "place_cpu", "resource_prices", "set_resource_price", "with_hold"]

"""The fleet heatmap: every node's devices now, how full each is, and the leases holding it.

One read transaction, two queries whatever the fleet's size (devices with their nodes; allocations
holding a device now with their leases and tenants' names), nothing written. Per device:

- ``fill``: the share held by leases (allocations not drawn on a reservation), 0..1;
- ``state``: its node's (``available``, ``down``, ``maintenance``): how full it is is ``fill``;
- ``leases``: each lease holding it (a lease drawing on a reservation is listed with ``drawn``).

The operator sees everything; a supplier its own nodes, with the lease ids on them (the occupancy it
already sees) but not the tenants' ids or names (a supplier sees its nodes and money, never who rents
them); a tenant is refused.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.service.platform import Platform
from suanli.store import capacity_series as store


@dataclass(frozen=True)
class HeatLease:
    lease_id: str
    state: str
    share: Decimal
    """Of the device, 0..1."""
    tenant_id: str | None
    """None for a supplier (not its business)."""
    tenant_name: str | None
    drawn: bool = False


@dataclass(frozen=True)
class HeatDevice:
    slot: int
    model: str
    fill: Decimal
    state: str
    leases: list[HeatLease] = field(default_factory=list)


@dataclass(frozen=True)
class HeatNode:
    name: str
    site: str
    model: str
    supplier: str
    state: str
    devices: list[HeatDevice] = field(default_factory=list)


@dataclass(frozen=True)
class Heatmap:
    at: datetime
    nodes: list[HeatNode] = field(default_factory=list)


def heatmap(p: Platform, actor: Principal) -> Heatmap:
    grant = authorize(actor, Action.READ_HEATMAP)
    supplier = grant.supplier
    now = p.clock.now()
    with p.read() as s:
        devices = store.devices(s, supplier)
        held = store.holdings(s, now, supplier)
    by_device: dict[tuple[str, int], list[store.Holding]] = defaultdict(list)
    for h in held:
        by_device[(h.node, h.slot)].append(h)
    nodes: dict[str, HeatNode] = {}
    for d in devices:
        if supplier is not None and d.supplier != supplier:
            continue
        node = nodes.get(d.node)
        if node is None:
            node = nodes[d.node] = HeatNode(d.node, d.site, d.model, d.supplier, d.node_state)
        hs = by_device.get((d.node, d.slot), [])
        fill = min(Decimal(1), sum((Decimal(h.milli) for h in hs if not h.drawn), Decimal(0)) / 1000)
        node.devices.append(HeatDevice(d.slot, d.model, fill, d.node_state, [
            HeatLease(h.lease_id, h.lease_state, Decimal(h.milli) / 1000,
                      None if supplier is not None else h.tenant_id,
                      None if supplier is not None else h.tenant_name, h.drawn) for h in hs]))
    return Heatmap(now, sorted(nodes.values(), key=lambda n: (n.site, n.name)))

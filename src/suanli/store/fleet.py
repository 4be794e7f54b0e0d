"""Sites, suppliers, nodes and their devices; operator catalog extensions; supplier floors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.domain.catalog import AcceleratorModel
from suanli.domain.fleet import (
    BEGINNING,
    FloorPrice,
    Node,
    NodeState,
    Owners,
    Ownership,
    Site,
    SiteTier,
    Supplier,
)
from suanli.errors import NotFoundError
from suanli.store.tables import DeviceRow, FloorRow, ModelRow, NodeOwnerRow, NodeRow, SiteRow, SupplierRow


def save_model(s: Session, model: AcceleratorModel) -> None:
    s.merge(ModelRow(name=model.name, spec=model.to_dict()))


def list_models(s: Session) -> list[AcceleratorModel]:
    return [AcceleratorModel.from_dict(r.spec) for r in s.scalars(select(ModelRow))]


def save_site(s: Session, site: Site) -> None:
    s.merge(SiteRow(name=site.name, region=site.region, tier=site.tier.value, pue=site.pue,
                    power_price_kwh=site.power_price_kwh, currency=site.currency))


def list_sites(s: Session) -> list[Site]:
    return [Site(r.name, r.region, SiteTier(r.tier), r.pue, r.power_price_kwh, r.currency)
            for r in s.scalars(select(SiteRow).order_by(SiteRow.name))]


def save_supplier(s: Session, sup: Supplier) -> None:
    s.merge(SupplierRow(name=sup.name, display_name=sup.display_name))


def list_suppliers(s: Session) -> list[Supplier]:
    return [Supplier(r.name, r.display_name) for r in s.scalars(select(SupplierRow).order_by(SupplierRow.name))]


def supplier_exists(s: Session, name: str) -> bool:
    return s.get(SupplierRow, name) is not None


def _node(r: NodeRow) -> Node:
    return Node(name=r.name, site=r.site, supplier=r.supplier, cpu_cores=r.cpu_cores, memory_gib=r.memory_gib,
                model=r.model, device_count=r.device_count, fabric=r.fabric, nic_gbps=r.nic_gbps,
                disk_gb=r.disk_gb, state=NodeState(r.state))


def save_node(s: Session, node: Node, now: datetime) -> bool:
    """Insert or update a node; its device slots follow ``device_count``. Returns True if new.
    A new node's supplier owns it from the beginning (its first ownership span); an existing
    node's owner is never changed here (that is a transfer: :func:`add_transfer`)."""
    row = s.scalar(select(NodeRow).where(NodeRow.name == node.name))
    new = row is None
    if row is None:
        row = NodeRow(name=node.name, state_reason="", supplier=node.supplier)
        s.add(row)
    row.site, row.cpu_cores, row.memory_gib = node.site, node.cpu_cores, node.memory_gib
    row.nic_gbps, row.disk_gb, row.fabric, row.model = node.nic_gbps, node.disk_gb, node.fabric, node.model
    row.device_count, row.state = node.device_count, node.state.value
    s.flush()
    if new:
        s.add(NodeOwnerRow(node=node.name, supplier=node.supplier, valid_from=BEGINNING, valid_to=None,
                           reason="registered", created_at=now))
    have = {d.slot: d for d in s.scalars(select(DeviceRow).where(DeviceRow.node_id == row.id))}
    for slot in range(node.device_count):
        if slot in have:
            have[slot].model = node.model
        else:
            s.add(DeviceRow(node_id=row.id, slot=slot, model=node.model, alloc_version=0))
    s.flush()
    return new


def list_nodes(s: Session, *, supplier: str | None = None) -> list[Node]:
    q = select(NodeRow).order_by(NodeRow.site, NodeRow.name)
    if supplier is not None:
        q = q.where(NodeRow.supplier == supplier)
    return [_node(r) for r in s.scalars(q)]


def nodes_by_name(s: Session, names: Iterable[str]) -> dict[str, Node]:
    """The named nodes that exist, by name."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    return {r.name: _node(r) for r in s.scalars(select(NodeRow).where(NodeRow.name.in_(wanted)))}


def get_node_row(s: Session, name: str) -> NodeRow:
    row = s.scalar(select(NodeRow).where(NodeRow.name == name))
    if row is None:
        raise NotFoundError(f"no node named {name!r}", node=name)
    return row


def set_node_state(s: Session, name: str, state: NodeState, reason: str) -> Node:
    row = get_node_row(s, name)
    row.state, row.state_reason = state.value, reason
    s.flush()
    return replace(_node(row))


def node_state_reasons(s: Session) -> dict[str, str]:
    return {r.name: r.state_reason for r in s.scalars(select(NodeRow))}


def save_floor(s: Session, floor: FloorPrice) -> None:
    s.merge(FloorRow(supplier=floor.supplier, model=floor.model, device_hour=floor.device_hour))


def list_floors(s: Session, supplier: str | None = None) -> list[FloorPrice]:
    """Floors in force, by supplier then model; one supplier's when ``supplier`` is given."""
    q = select(FloorRow).order_by(FloorRow.supplier, FloorRow.model)
    if supplier is not None:
        q = q.where(FloorRow.supplier == supplier)
    return [FloorPrice(r.supplier, r.model, r.device_hour) for r in s.scalars(q)]


def floors_by_key(s: Session) -> dict[tuple[str, str], Decimal]:
    return {(f.supplier, f.model): f.device_hour for f in list_floors(s)}


def names_exist(s: Session, table: type[SiteRow] | type[SupplierRow], names: Iterable[str]) -> set[str]:
    wanted = set(names)
    if not wanted:
        return set()
    return set(s.scalars(select(table.name).where(table.name.in_(wanted))))


def _ownership(r: NodeOwnerRow) -> Ownership:
    return Ownership(r.node, r.supplier, r.valid_from, r.valid_to, r.reason)


def ownership(s: Session, nodes: Iterable[str] | None = None) -> list[Ownership]:
    """The ownership spans of the named nodes (every node when None), per node in time order."""
    q = select(NodeOwnerRow).order_by(NodeOwnerRow.node, NodeOwnerRow.valid_from)
    if nodes is not None:
        wanted = sorted(set(nodes))
        if not wanted:
            return []
        q = q.where(NodeOwnerRow.node.in_(wanted))
    return [_ownership(r) for r in s.scalars(q)]


def owners(s: Session, nodes: Iterable[str] | None = None) -> Owners:
    """Who owned the named nodes (every node when None) at each instant."""
    return Owners(ownership(s, nodes))


def lock_nodes(s: Session, names: Iterable[str], *, exclusive: bool = False) -> set[str]:
    """Lock the named nodes' rows, in name order (shared, or exclusive for a transfer), so that
    attribution of usage and a change of owner serialise; returns the names that exist."""
    wanted = sorted(set(names))
    out: set[str] = set()
    for i in range(0, len(wanted), 1000):
        q = (select(NodeRow.name).where(NodeRow.name.in_(wanted[i:i + 1000])).order_by(NodeRow.name)
             .with_for_update(read=not exclusive))
        out.update(s.scalars(q))
    return out


def add_transfer(s: Session, node: str, supplier: str, at: datetime, now: datetime, reason: str) -> None:
    """``supplier`` owns ``node`` from ``at`` on: the open span ends at ``at`` and a new one opens.
    The service checks that ``at`` is not in the past and after the node's last change."""
    open_ = s.scalar(select(NodeOwnerRow).where(NodeOwnerRow.node == node, NodeOwnerRow.valid_to.is_(None)))
    if open_ is None:
        raise NotFoundError(f"node {node!r} has no ownership history", node=node)
    open_.valid_to = at
    s.flush()
    s.add(NodeOwnerRow(node=node, supplier=supplier, valid_from=at, valid_to=None, reason=reason, created_at=now))
    s.flush()


def apply_owners(s: Session, now: datetime) -> list[tuple[str, str]]:
    """Make ``nodes.supplier`` (the owner now, for listing and access) follow the history for the
    transfers that have taken effect by ``now``; returns the (node, supplier) changed."""
    q = (select(NodeRow, NodeOwnerRow.supplier).join(NodeOwnerRow, NodeOwnerRow.node == NodeRow.name)
         .where(NodeOwnerRow.valid_from <= now, (NodeOwnerRow.valid_to.is_(None)) | (NodeOwnerRow.valid_to > now),
                NodeOwnerRow.supplier != NodeRow.supplier)
         .order_by(NodeRow.name).with_for_update(of=NodeRow))
    changed = []
    for row, owner in s.execute(q).all():
        row.supplier = owner
        changed.append((row.name, owner))
    s.flush()
    return changed

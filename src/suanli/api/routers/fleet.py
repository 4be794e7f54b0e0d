from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Document, Name
from suanli.api.schemas.fleet import (
    AcceleratorResponse,
    FleetImportResponse,
    FloorRequest,
    FloorResponse,
    NodeOwnershipResponse,
    NodeResponse,
    NodeStateRequest,
    NodeStateResponse,
    NodeTransferRequest,
)
from suanli.service import fleet

router = APIRouter(tags=["fleet"])


@router.get("/v1/catalog", response_model=list[AcceleratorResponse])
def catalog(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [{**m.to_dict(), "p": m.p} for m in fleet.catalog(p, who)]


@router.post("/v1/fleet/import", response_model=FleetImportResponse)
def import_fleet(p: PlatformDep, who: PrincipalDep, doc: Annotated[Document, Body()]) -> dict[str, int]:
    """Import a fleet document (the YAML fleet file, as JSON). All or nothing."""
    return fleet.import_fleet(p, who, doc)


@router.get("/v1/fleet/export")
def export_fleet(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    return fleet.export_fleet(p, who)


@router.get("/v1/nodes", response_model=list[NodeResponse])
def nodes(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return fleet.list_nodes(p, who)


@router.post("/v1/nodes/{name}/state", response_model=NodeStateResponse)
def node_state(name: Name, body: NodeStateRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    return fleet.set_node_state(p, who, name, body.state, body.reason)


@router.post("/v1/nodes/{name}/transfer", response_model=NodeOwnershipResponse)
def node_transfer(name: Name, body: NodeTransferRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Transfer a node to another supplier, effective now or later (operator only)."""
    return fleet.transfer_node(p, who, name, body.supplier, body.effective_from, body.reason)


@router.get("/v1/nodes/{name}/owners", response_model=NodeOwnershipResponse)
def node_owners(name: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """A node's ownership history (the operator; a supplier for a node it owns or owned)."""
    return fleet.node_ownership(p, who, name)


@router.get("/v1/suppliers/{supplier}/floors", response_model=list[FloorResponse])
def list_floors(supplier: Name, p: PlatformDep, who: PrincipalDep) -> Any:
    """The supplier's floor prices in force (the operator any supplier's; a supplier its own)."""
    return fleet.list_floors(p, who, supplier)


@router.put("/v1/suppliers/{supplier}/floors", response_model=FloorResponse)
def set_floor(supplier: Name, body: FloorRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    return fleet.set_floor(p, who, supplier, body.model, body.device_hour)

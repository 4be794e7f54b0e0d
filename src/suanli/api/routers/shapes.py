"""Resource list prices of custom shapes (docs/billing.md "Resource prices"): everyone reads, the
operator sets (effective now or later)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.shapes import ResourcePriceResponse, ResourcePriceSetRequest
from suanli.domain.clock import utc
from suanli.service import shapes

router = APIRouter(tags=["prices"])


@router.get("/v1/resource-prices", response_model=list[ResourcePriceResponse])
def list_resource_prices(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """Every resource list price (CPU core-hour, RAM GiB-hour, NIC Gbps-hour, disk GiB-month), by
    resource, site and effective instant."""
    return shapes.list_resource_prices(p, who)


@router.post("/v1/resource-prices", response_model=ResourcePriceResponse, status_code=201)
def set_resource_price(body: ResourcePriceSetRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Set a resource's list price (operator only), effective now or later; it bills the host
    resources leases hold beyond their devices' share from that instant on."""
    eff = utc(body.effective_from) if body.effective_from else None
    return shapes.set_resource_price(p, who, body.resource, body.amount, body.site, eff, body.currency)

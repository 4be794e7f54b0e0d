"""Package products (operator-defined, tenant-bought) and prepaid packages.

A tenant buys a product at its listed price; nothing a tenant sends can carry a price (the
request schemas forbid extra fields). Selling at another price, or a custom package, is the
operator's, with a reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Label, Name
from suanli.api.schemas.money import (
    PackageBuyRequest,
    PackageProductRequest,
    PackageProductResponse,
    PackageResponse,
    PackageSaleRequest,
    ProductPriceRequest,
    VolumeTierWire,
)
from suanli.domain.packages import PackageProduct
from suanli.service import packages

router = APIRouter(tags=["packages"])


def product_out(x: PackageProduct) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "meter": x.meter.value, "model": x.model, "site": x.site,
            "unit": x.unit.value, "quantity": x.quantity, "price": x.price,
            "tiers": [{"min_count": t.min_count, "price": str(t.price)} for t in x.tiers],
            "valid_days": x.valid_days, "valid_from": x.valid_from, "valid_to": x.valid_to, "state": x.state.value,
            "created_at": x.created_at, "updated_at": x.updated_at}


def _tiers(tiers: list[VolumeTierWire] | None) -> list[tuple[int, Any]] | None:
    return None if tiers is None else [(t.min_count, t.price) for t in tiers]


@router.get("/v1/package-products", response_model=list[PackageProductResponse])
def list_products(p: PlatformDep, who: PrincipalDep, include_retired: bool = False) -> Any:
    """The package products on sale, with their prices and volume tiers."""
    return [product_out(x) for x in packages.list_products(p, who, include_retired=include_retired)]


@router.post("/v1/package-products", response_model=PackageProductResponse, status_code=201)
def create_product(body: PackageProductRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Define a package product (operator)."""
    return product_out(packages.create_product(
        p, who, name=body.name, meter=body.meter, quantity=body.quantity, price=body.price, unit=body.unit,
        model=body.model, site=body.site, valid_days=body.valid_days, valid_from=body.valid_from,
        valid_to=body.valid_to, tiers=_tiers(body.tiers)))


@router.put("/v1/package-products/{product}/price", response_model=PackageProductResponse)
def set_product_price(product: Label, body: ProductPriceRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """A new price for purchases from now on (operator); packages bought keep their price."""
    return product_out(packages.set_product_price(p, who, product, body.price, _tiers(body.tiers)))


@router.post("/v1/package-products/{product}/retire", response_model=PackageProductResponse)
def retire_product(product: Label, p: PlatformDep, who: PrincipalDep) -> Any:
    """Stop selling a product (operator); packages bought keep working."""
    return product_out(packages.retire_product(p, who, product))


@router.post("/v1/packages", response_model=PackageResponse, status_code=201)
def buy_package(body: PackageBuyRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """A tenant buys packages of a product at the listed price (billed on this month's invoice)."""
    return packages.buy_package(p, who, body.product, body.count)


@router.post("/v1/packages/sales", response_model=PackageResponse, status_code=201)
def sell_package(body: PackageSaleRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """The operator sells a tenant a package at a price of its choosing, with a reason."""
    return packages.sell_package(p, who, tenant=body.tenant, reason=body.reason, product=body.product,
                                 count=body.count, price=body.price, meter=body.meter, quantity=body.quantity,
                                 unit=body.unit, model=body.model, site=body.site, starts_at=body.starts_at,
                                 expires_at=body.expires_at)


@router.get("/v1/packages", response_model=list[PackageResponse])
def list_packages(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None) -> Any:
    """Packages with what issued invoices drew (a tenant's own; the operator's: all or one tenant's)."""
    return packages.list_packages(p, who, tenant)

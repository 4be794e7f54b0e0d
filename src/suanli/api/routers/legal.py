"""Invoices ready for China: the seller's and buyers' legal profiles and the tax rate per product type."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.legal import (
    LegalProfileRequest,
    LegalProfileResponse,
    TaxRateRequest,
    TaxRateResponse,
    TaxRatesResponse,
)
from suanli.service import legal

router = APIRouter(tags=["invoices for China"])


@router.get("/v1/legal/seller", response_model=LegalProfileResponse)
def seller(p: PlatformDep, who: PrincipalDep) -> Any:
    """The seller's (operator's) legal profile, printed on every invoice; 404 until set."""
    return legal.seller_profile(p, who)


@router.put("/v1/legal/seller", response_model=LegalProfileResponse)
def set_seller(body: LegalProfileRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Set the seller's profile (operator). Issued invoices keep the profile they were issued with."""
    return legal.set_seller_profile(p, who, body.model_dump())


@router.get("/v1/legal/buyers/{tenant}", response_model=LegalProfileResponse)
def buyer(tenant: Name, p: PlatformDep, who: PrincipalDep) -> Any:
    """A tenant's buyer profile (a tenant: its own; 404 until set)."""
    return legal.buyer_profile(p, who, tenant)


@router.put("/v1/legal/buyers/{tenant}", response_model=LegalProfileResponse)
def set_buyer(tenant: Name, body: LegalProfileRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Set a tenant's buyer profile and the invoice type it wants: the tenant's admin or finance member,
    or the operator."""
    return legal.set_buyer_profile(p, who, tenant, body.model_dump())


@router.get("/v1/tax-rates", response_model=TaxRatesResponse)
def tax_rates(p: PlatformDep, who: PrincipalDep) -> Any:
    """Tax rates per product type: in force now (the default where none was set) and every rate set."""
    return legal.list_tax_rates(p, who)


@router.post("/v1/tax-rates", response_model=TaxRateResponse, status_code=201)
def set_tax_rate(body: TaxRateRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Set a product type's tax rate from now or a later instant (operator); issued invoices keep theirs."""
    return legal.set_tax_rate(p, who, body.product_type, body.rate, body.effective_from, body.reason)

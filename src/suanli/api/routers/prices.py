from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import MAX_GIB, Name
from suanli.api.schemas.prices import (
    OfferResponse,
    PriceCorrectionRequest,
    PriceCorrectionResponse,
    PriceResponse,
    PriceSetRequest,
)
from suanli.domain.clock import utc
from suanli.service import offers as offers_service
from suanli.service import price_corrections, prices

router = APIRouter(tags=["prices"])


@router.get("/v1/prices", response_model=list[PriceResponse])
def list_prices(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return prices.list_prices(p, who)


@router.post("/v1/prices", response_model=PriceResponse, status_code=201)
def set_price(body: PriceSetRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    eff = utc(body.effective_from) if body.effective_from else None
    return prices.set_price(p, who, body.model, body.amount, body.unit, body.site, eff, body.currency)


@router.post("/v1/prices/corrections", response_model=PriceCorrectionResponse, status_code=201)
def correct_price(body: PriceCorrectionRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Correct what a price was over a past window (operator): credit/debit notes for issued
    invoices, the corrected price for months not issued yet; issued invoices are not changed."""
    return price_corrections.correct_price(p, who, body.model, body.amount, utc(body.start), utc(body.end),
                                           body.reason, site=body.site, unit=body.unit)


@router.get("/v1/prices/corrections", response_model=list[PriceCorrectionResponse])
def list_corrections(p: PlatformDep, who: PrincipalDep, model: Name | None = None) -> list[dict[str, Any]]:
    """Every price correction: who, when, why, the window, old and new prices, the notes it issued (a tenant:
    those with notes on its own invoices, without the supplier/commission split)."""
    return price_corrections.list_corrections(p, who, model)


@router.get("/v1/offers", response_model=list[OfferResponse])
def offers(p: PlatformDep, who: PrincipalDep, model: Name | None = None, site: Name | None = None,
           min_memory_gib: Annotated[int, Query(ge=0, le=MAX_GIB, description=f"0 to {MAX_GIB}")] = 0) -> list[dict[str, Any]]:
    """What can be rented now, per model and site, with the list price in both units."""
    return offers_service.offers(p, who, model=model, site=site, min_memory_gib=min_memory_gib)

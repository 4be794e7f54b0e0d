from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.prices import OfferResponse, PriceResponse, PriceSetRequest
from suanli.domain.clock import utc
from suanli.service import offers as offers_service
from suanli.service import prices

router = APIRouter(tags=["prices"])


@router.get("/v1/prices", response_model=list[PriceResponse])
def list_prices(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return prices.list_prices(p, who)


@router.post("/v1/prices", response_model=PriceResponse, status_code=201)
def set_price(body: PriceSetRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    eff = utc(body.effective_from) if body.effective_from else None
    return prices.set_price(p, who, body.model, body.amount, body.unit, body.site, eff, body.currency)


@router.get("/v1/offers", response_model=list[OfferResponse])
def offers(p: PlatformDep, who: PrincipalDep, model: str | None = None, site: str | None = None,
           min_memory_gib: int = 0) -> list[dict[str, Any]]:
    """What can be rented now, per model and site, with the list price in both units."""
    return offers_service.offers(p, who, model=model, site=site, min_memory_gib=min_memory_gib)

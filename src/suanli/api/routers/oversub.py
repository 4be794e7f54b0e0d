"""Oversubscription: the operator's factors and the burstable pool; where burstable slices are sold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.oversub import (
    BurstableOfferResponse,
    FactorResponse,
    FactorSetRequest,
    OversubResponse,
)
from suanli.service import oversub

router = APIRouter(tags=["oversub"])


@router.get("/v1/oversub", response_model=OversubResponse)
def list_factors(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """The factors in force and their history, the burstable pool (compute sold vs physical) and the
    contention measured per pool device (operator)."""
    return oversub.list_factors(p, who)


@router.post("/v1/oversub", response_model=FactorResponse, status_code=201)
def set_factor(body: FactorSetRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Set a (site, model)'s oversubscription factor and burstable discount (operator); new grants only."""
    return oversub.factor_doc(oversub.set_factor(p, who, body.model_dump()))


@router.get("/v1/oversub/offers", response_model=list[BurstableOfferResponse])
def burstable_offers(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """Where burstable slices are sold now and how much lower they are priced (everyone)."""
    return oversub.offers(p, who)

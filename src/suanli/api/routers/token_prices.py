"""``POST /v1/prices/tokens``: set a model's per-token list prices (input, output, cached; flat or tiered)
in the default plan, effective now (operator)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.money import PlanResponse
from suanli.api.schemas.token_prices import TokenPricesRequest
from suanli.service import token_prices

router = APIRouter(tags=["prices"])


@router.post("/v1/prices/tokens", response_model=PlanResponse, status_code=201)
def set_token_prices(body: TokenPricesRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """A model's price per million tokens (operator): the default plan in force ends now and a new one
    starts with the same rates and these for the model. Answers the new default plan."""
    prices = {k: None if v is None else v.model_dump(mode="json", exclude_none=True)
              for k, v in (("input", body.input), ("output", body.output), ("cached", body.cached))}
    return token_prices.set_token_prices(p, who, body.model, prices)

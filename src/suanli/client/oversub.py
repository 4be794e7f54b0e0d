"""Oversubscription endpoints: the operator's factors and burstable pool; where burstable slices are sold.

::

    with SuanliClient(server, token) as api:
        OversubClient(api).set(site="sz-edge-1", model="L20", factor="2", discount_pct="25")
"""

from __future__ import annotations

from decimal import Decimal

from suanli.api.schemas.oversub import (
    BurstableOfferResponse,
    FactorResponse,
    FactorSetRequest,
    OversubResponse,
)
from suanli.client.http import Endpoints


class OversubClient(Endpoints):

    def set(self, *, site: str, model: str, factor: str | Decimal, discount_pct: str | Decimal,
            offered: bool = True) -> FactorResponse:
        """Set a (site, model)'s factor and burstable discount (operator); applies to new grants only."""
        body = FactorSetRequest.model_validate({"site": site, "model": model, "factor": str(factor),
                                                "discount_pct": str(discount_pct), "offered": offered})
        return self._one(FactorResponse, "POST", "/v1/oversub", json=body.model_dump(mode="json"))

    def get(self) -> OversubResponse:
        return self._one(OversubResponse, "GET", "/v1/oversub")

    def offers(self) -> list[BurstableOfferResponse]:
        return self._many(BurstableOfferResponse, "/v1/oversub/offers")

"""Resource list prices of custom shapes: ``GET/POST /v1/resource-prices`` (docs/billing.md "Resource prices").

::

    with SuanliClient(server, token) as api:
        ResourcePricesClient(api).set("cpu_core_hour", Decimal("0.12"))
        ResourcePricesClient(api).list()
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.api.schemas.shapes import ResourcePriceResponse
from suanli.client.http import Endpoints


class ResourcePricesClient(Endpoints):

    def list(self) -> list[ResourcePriceResponse]:
        return self._many(ResourcePriceResponse, "/v1/resource-prices")

    def set(self, resource: str, amount: Decimal, *, site: str | None = None,
            effective_from: datetime | None = None) -> ResourcePriceResponse:
        """Set ``resource``'s list price (operator), effective now or later."""
        body: dict[str, Any] = {"resource": resource, "amount": str(amount)}
        if site is not None:
            body["site"] = site
        if effective_from is not None:
            body["effective_from"] = effective_from.isoformat()
        return self._one(ResourcePriceResponse, "POST", "/v1/resource-prices", json=body)

"""Order queue endpoints (docs/queue.md): waiting orders, "when?", fair-share weights.

::

    with SuanliClient(server, token) as api:
        QueueClient(api).when(OrderRequest(form="gpu", quantity=8, models=["A800"], hours=2))
"""

from __future__ import annotations

from suanli.api.schemas.orders import OrderRequest
from suanli.api.schemas.queue import QueueEntryResponse, WeightRequest, WeightResponse, WhenResponse
from suanli.client.http import Endpoints


class QueueClient(Endpoints):

    def entries(self) -> list[QueueEntryResponse]:
        """Waiting orders in their order of service (a tenant: its own; the operator: all)."""
        return self._many(QueueEntryResponse, "/v1/queue")

    def when(self, request: OrderRequest) -> WhenResponse:
        """The earliest start of this order from the reservation calendar; nothing is written."""
        return self._one(WhenResponse, "POST", "/v1/orders/when",
                         json=request.model_dump(mode="json", exclude_none=True))

    def weights(self) -> list[WeightResponse]:
        return self._many(WeightResponse, "/v1/queue/weights")

    def set_weight(self, tenant: str, weight: str, allow_high: bool | None = None) -> WeightResponse:
        body = WeightRequest.model_validate({"tenant": tenant, "weight": weight, "allow_high": allow_high})
        return self._one(WeightResponse, "PUT", "/v1/queue/weights", json=body.model_dump(mode="json"))

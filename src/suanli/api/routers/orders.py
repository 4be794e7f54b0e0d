from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from suanli.api.deps import PageDep, PlatformDep, PrincipalDep
from suanli.api.schemas.common import Page
from suanli.api.schemas.orders import OrderRequest, OrderResponse
from suanli.domain.clock import utc
from suanli.service import orders
from suanli.service.orders import OrderRecord

router = APIRouter(tags=["orders"])


def order_out(o: OrderRecord, replayed: bool = False) -> dict[str, Any]:
    return {**o.__dict__, "replayed": replayed}


@router.post("/v1/orders", response_model=OrderResponse, status_code=201)
def create_order(body: OrderRequest, p: PlatformDep, who: PrincipalDep, response: Response,
                 idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Order a product form. Placement happens now; a rejected order answers 409 with the reason.
    Send an ``Idempotency-Key`` header to make retries safe."""
    raw = body.to_raw()
    for k in ("start", "end"):
        if k in raw:
            raw[k] = utc(raw[k])
    result = orders.create_order(p, who, raw, idempotency_key)
    if result.replayed:
        response.status_code = 200
    return order_out(result.order, result.replayed)


@router.get("/v1/orders", response_model=Page[OrderResponse])
def list_orders(p: PlatformDep, who: PrincipalDep, page: PageDep) -> dict[str, Any]:
    offset, limit = page
    items = orders.list_orders(p, who, offset, limit + 1)
    return {"items": [order_out(o) for o in items[:limit]], "offset": offset, "limit": limit,
            "next_offset": offset + limit if len(items) > limit else None}


@router.post("/v1/orders/{order_id}/cancel", response_model=OrderResponse)
def cancel_order(order_id: str, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    return order_out(orders.cancel_order(p, who, order_id))

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from starlette.concurrency import run_in_threadpool

from suanli.api.deps import PageDep, PlatformDep, PrincipalDep
from suanli.api.schemas.common import ErrorResponse, Name, Page
from suanli.api.schemas.orders import OrderRequest, OrderResponse, QuoteResponse
from suanli.domain.clock import utc
from suanli.service import order_queue, orders, quotes, slicing
from suanli.service.order_queue import QueueEntry
from suanli.service.orders import OrderRecord
from suanli.service.quotes import Quote

router = APIRouter(tags=["orders"])


def order_out(o: OrderRecord, replayed: bool = False, quote: Quote | None = None) -> dict[str, Any]:
    return {**o.__dict__, "replayed": replayed, "quote": quote_out(quote)}


def queue_place(e: QueueEntry | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"position": e.position, "priority": e.order.priority.value, "wait_until": e.order.wait_until,
            "estimated_start": e.estimated_start}


def quote_out(q: Quote | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {"pricing": q.pricing.value, "currency": q.currency, "hourly": q.hourly, "term_total": q.term_total,
            "note": q.note, "enforcement": q.enforcement,
            "lines": [{"model": x.model, "site": x.site, "valid_from": x.valid_from, "devices": x.devices,
                       "device_hour": x.device_hour, "p_year": x.p_year, "list_device_hour": x.list_device_hour,
                       "plan": x.plan, "basis": x.basis.value, "hourly": x.hourly, "term_hours": x.term_hours,
                       "term_total": x.term_total} for x in q.lines]}


BUSY = {503: {"model": ErrorResponse,
              "description": "Busy (`busy`): the placement queue did not reach the order within the server's bound "
                             "(`SUANLI_ORDER_WAIT_SECONDS`); nothing was written: send it again (same "
                             "`Idempotency-Key`) after `Retry-After` seconds.",
              "headers": {"Retry-After": {"description": "Seconds to wait before sending the order again.",
                                          "required": True, "schema": {"type": "integer", "minimum": 0}}}}}


QUEUED = {202: {"model": OrderResponse,
                "description": "Queued (docs/queue.md): it did not fit now and carries `wait_until`; status `queued`, "
                               "no lease yet, `queue` gives its position and estimated start."}}


@router.post("/v1/orders", response_model=OrderResponse, status_code=201,
             responses={**BUSY, **QUEUED})  # type: ignore[dict-item]
async def create_order(body: OrderRequest, p: PlatformDep, who: PrincipalDep, response: Response,
                       idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Order a product form. Placement happens now (queued orders are placed in batches); a rejected
    order answers 409 with the reason, one that can never fit the fleet 422 at once, one the queue
    does not reach within the server's bound 503 ``busy`` with ``Retry-After`` (nothing written).
    With ``wait_until``, one that does not fit now waits in the queue: 202, status ``queued``, with its
    position and estimated start (docs/queue.md). Send an ``Idempotency-Key`` header to make retries safe."""
    raw = _raw(body)
    result = await orders.place_order(p, who, raw, idempotency_key)  # awaits the placement loop, holds no thread
    if result.replayed:
        response.status_code = 200
    if result.order.status == "queued":  # QUEUE: it waits (docs/queue.md): 202 with its place
        response.status_code = 200 if result.replayed else 202
        entry = await run_in_threadpool(order_queue.describe, p, who, result.order.id)
        return {**order_out(result.order, result.replayed), "queue": queue_place(entry)}
    lease = result.order.lease_id
    quote = orders.granted_quote(who, result)  # built at the grant; a replay reads it
    if quote is None and lease:
        quote = await run_in_threadpool(quotes.lease_quote, p, who, lease)
    out = order_out(result.order, result.replayed, quote)
    if result.order.form == "slice":  # SLICES: how the slice is held to its share (docs/slices.md)
        out["enforcement"] = (result.enforcement if result.enforcement is not None  # as granted: no read, no hop
                              else await run_in_threadpool(slicing.enforcement_of, p, lease))
    return out


@router.post("/v1/quotes", response_model=QuoteResponse)
def quote_order(body: OrderRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any] | None:
    """The price quote of a would-be order (same body as ``POST /v1/orders``): placed on the fleet as
    it is now and priced as a grant would be; nothing is written and nothing binds."""
    return quote_out(quotes.quote_order(p, who, _raw(body)))


def _raw(body: OrderRequest) -> dict[str, Any]:
    raw = body.to_raw()
    for k in ("start", "end", "wait_until"):
        if k in raw:
            raw[k] = utc(raw[k])
    return raw


@router.get("/v1/orders", response_model=Page[OrderResponse])
def list_orders(p: PlatformDep, who: PrincipalDep, page: PageDep) -> dict[str, Any]:
    offset, limit = page
    items = orders.list_orders(p, who, offset, limit + 1)
    return {"items": [order_out(o) for o in items[:limit]], "offset": offset, "limit": limit,
            "next_offset": offset + limit if len(items) > limit else None}


@router.post("/v1/orders/{order_id}/cancel", response_model=OrderResponse)
def cancel_order(order_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    return order_out(orders.cancel_order(p, who, order_id))

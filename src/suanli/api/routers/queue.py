"""The order queue: waiting orders, "when?", fair-share weights (docs/queue.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.routers.orders import _raw
from suanli.api.schemas.orders import OrderRequest
from suanli.api.schemas.queue import QueueEntryResponse, WeightRequest, WeightResponse, WhenResponse
from suanli.service import order_queue
from suanli.service.order_queue import QueueEntry

router = APIRouter(tags=["queue"])


def entry_out(e: QueueEntry) -> dict[str, Any]:
    q = e.order
    return {"order_id": q.order_id, "tenant": e.tenant, "form": q.form, "spec": dict(q.spec),
            "priority": q.priority.value, "position": e.position, "queued_at": q.queued_at,
            "wait_until": q.wait_until, "estimated_start": e.estimated_start, "preempting": list(e.preempting)}


@router.get("/v1/queue", response_model=list[QueueEntryResponse])
def list_queue(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """Waiting orders in their order of service with position and estimated start (a tenant: its own;
    the operator: all)."""
    return [entry_out(e) for e in order_queue.list_queue(p, who)]


@router.post("/v1/orders/when", response_model=WhenResponse)
def when(body: OrderRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """The earliest start of this order (same body as ``POST /v1/orders``) from the reservation calendar:
    live leases' ends, reservations, spot notices and the queued orders ahead of it; nothing is written."""
    w = order_queue.when_order(p, who, _raw(body))
    return {"answer": w.text(), "now": w.now, "start": w.start, "horizon_end": w.horizon_end, "ahead": w.ahead}


@router.get("/v1/queue/weights", response_model=list[WeightResponse])
def list_weights(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """Fair-share weights and who may order priority high (operator)."""
    return [{"tenant": w.tenant, "weight": str(w.weight), "allow_high": w.allow_high, "set_at": w.set_at}
            for w in order_queue.list_weights(p, who)]


@router.put("/v1/queue/weights", response_model=WeightResponse)
def set_weight(body: WeightRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Set a tenant's fair-share weight and whether it may order priority high (operator)."""
    w = order_queue.set_weight(p, who, body.tenant, body.weight, body.allow_high)
    return {"tenant": w.tenant, "weight": str(w.weight), "allow_high": w.allow_high, "set_at": w.set_at}

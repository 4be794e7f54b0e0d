from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from suanli.api import deps, fast_json
from suanli.api.deps import PageDep, PlatformDep, PrincipalDep
from suanli.api.routers.orders import quote_out
from suanli.api.schemas.common import Name, Page
from suanli.api.schemas.orders import EndRequest, ExtendRequest, LeaseResponse
from suanli.domain.accounts import Principal
from suanli.domain.clock import utc
from suanli.domain.leases import Lease
from suanli.service import leases, order_queue, quotes, slicing
from suanli.service.platform import Platform

router = APIRouter(tags=["leases"])


def lease_out(lease: Lease, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    held = lease.last_allocations()
    return {
        "id": lease.id, "order_id": lease.order_id, "tenant_id": lease.tenant_id, "form": lease.form.value,
        "state": lease.state.value, "start": lease.start, "end": lease.end, "activated_at": lease.activated_at,
        "ended_at": lease.ended_at, "reason": lease.reason, "placement": lease.placement,
        "devices": sum((Decimal(a.limit_milli) / 1000 for a in held), start=Decimal(0)),
        "allocations": [{"node": a.node, "device": a.slot, "model": a.model, "site": a.site, "fabric": a.fabric,
                         "milli": a.milli, "memory_mib": a.memory_mib, "start": a.start, "end": a.end,
                         "held": a in held, "sold_milli": a.sold_milli}
                        for a in lease.allocations],
        "events": None if events is None else [
            {"at": e["at"], "from_state": e["from"], "to_state": e["to"], "reason": e["reason"],
             "actor": e.get("actor", "system")} for e in events],
    }


_LIST_DEFAULTS = fast_json.defaults(LeaseResponse)
"""What a listed lease shows for the fields only one lease shown alone has (``pricing``, ``quote``, …)."""


@router.get("/v1/leases", response_model=Page[LeaseResponse])
async def list_leases(request: Request, p: PlatformDep, page: PageDep, state: Name | None = None,
                      authorization: Annotated[str | None, Header()] = None) -> Response:
    """A page of leases, newest first. The hottest read: the token and the page in one worker-thread
    hop, and the body written without validating it again (:mod:`suanli.api.fast_json`;
    docs/performance.md "GET /v1/leases")."""
    offset, limit = page

    def work() -> Response:
        who = deps.principal(request, authorization)
        items = leases.list_leases(p, who, state=state, offset=offset, limit=limit + 1)
        return fast_json.response({"items": [_LIST_DEFAULTS | lease_out(x) for x in items[:limit]],
                                   "offset": offset, "limit": limit,
                                   "next_offset": offset + limit if len(items) > limit else None})

    return await run_in_threadpool(work)


@router.get("/v1/leases/{lease_id}", response_model=LeaseResponse)
def show_lease(lease_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    lease, events = leases.get_lease(p, who, lease_id)
    enforced = {"enforcement": slicing.enforcement_of(p, lease.id)} if lease.form.value == "slice" else {}  # SLICES
    notice = order_queue.preempt_at(p, who, lease.id)  # QUEUE: a spot lease under notice (docs/queue.md)
    return lease_out(lease, events) | priced(p, who, lease_id) | enforced | ({"preempt_at": notice} if notice else {})


def priced(p: Platform, who: Principal, lease_id: str) -> dict[str, Any]:
    """``pricing`` and ``quote`` of one lease (none for a supplier: a tenant's price is not theirs to see)."""
    q = quotes.lease_quote(p, who, lease_id)
    return {"pricing": q.pricing.value if q else None, "quote": quote_out(q)}


@router.post("/v1/leases/{lease_id}/end", response_model=LeaseResponse)
async def end_lease(lease_id: Name, request: Request, p: PlatformDep, body: EndRequest | None = None,
                    authorization: Annotated[str | None, Header()] = None) -> Response:
    """The token, the end and the queue's kick in one worker-thread hop (as the lease list's), the body
    written as the lease list's is (:mod:`suanli.api.fast_json`; docs/performance.md "The order and the
    end", "ORDERS2")."""

    def work() -> Response:
        who = deps.principal(request, authorization)
        out = lease_out(leases.end_lease(p, who, lease_id, body.reason if body else ""))
        order_queue.kick(p)  # QUEUE: capacity freed: queued orders first (docs/queue.md)
        return fast_json.response(_LIST_DEFAULTS | out)

    return await run_in_threadpool(work)


@router.post("/v1/leases/{lease_id}/extend", response_model=LeaseResponse)
def extend_lease(lease_id: Name, body: ExtendRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    lease = leases.extend_lease(p, who, lease_id, hours=body.hours, end=utc(body.end) if body.end else None)
    return lease_out(lease) | priced(p, who, lease_id)

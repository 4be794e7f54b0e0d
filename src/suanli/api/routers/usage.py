from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name, Period, Text
from suanli.api.schemas.money import IngestResponse, UsageBatchRequest, UsageEvent, UsageSummaryResponse
from suanli.errors import ValidationError
from suanli.service import usage

router = APIRouter(tags=["usage"])


@router.post("/v1/usage/events", response_model=IngestResponse, status_code=202)
def ingest_one(event: UsageEvent, p: PlatformDep, who: PrincipalDep) -> Any:
    """Ingest one usage event; idempotent on (source, id)."""
    return usage.ingest(p, who, [event.model_dump(exclude_none=True)]).__dict__


@router.post("/v1/usage/batch", response_model=IngestResponse, status_code=202,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": UsageBatchRequest.model_json_schema()}}}})
async def ingest_batch(request: Request, p: PlatformDep, who: PrincipalDep) -> Any:
    """Ingest up to 10,000 events ``{"events": [...]}``, all or nothing; resent events count as duplicates.

    The body is decoded here rather than by a model: every event is validated in full by the
    service (:func:`suanli.ledger.meters.parse_event`), and this is the hot path."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ValidationError(f"malformed JSON ({e}); send a JSON object {{\"events\": [...]}}") from None
    if not isinstance(body, dict) or set(body) != {"events"} or not isinstance(body["events"], list):
        raise ValidationError('the body must be a JSON object {"events": [event, ...]}', field="events")
    result = await run_in_threadpool(usage.ingest, p, who, body["events"])
    return result.__dict__


@router.get("/v1/usage", response_model=list[UsageSummaryResponse])
def usage_summary(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None, period: Period | None = None,
                  source: Text | None = None) -> Any:
    """Usage per tenant, meter and model (a tenant sees its own), optionally of one event source."""
    return usage.usage_summary(p, who, tenant=tenant, period=period, source=source)

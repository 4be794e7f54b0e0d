from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.money import IngestResponse, UsageBatchRequest, UsageEvent, UsageSummaryResponse
from suanli.service import usage

router = APIRouter(tags=["usage"])


@router.post("/v1/usage/events", response_model=IngestResponse, status_code=202)
def ingest_one(event: UsageEvent, p: PlatformDep, who: PrincipalDep) -> Any:
    """Ingest one usage event; idempotent on (source, id)."""
    return usage.ingest(p, who, [event.model_dump(exclude_none=True)]).__dict__


@router.post("/v1/usage/batch", response_model=IngestResponse, status_code=202)
def ingest_batch(body: UsageBatchRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Ingest up to 10,000 events, all or nothing; resent events count as duplicates."""
    return usage.ingest(p, who, body.events).__dict__


@router.get("/v1/usage", response_model=list[UsageSummaryResponse])
def usage_summary(p: PlatformDep, who: PrincipalDep, tenant: str | None = None, period: str | None = None) -> Any:
    """Usage per tenant, meter and model (a tenant sees its own)."""
    return usage.usage_summary(p, who, tenant=tenant, period=period)

"""``GET /v1/inference/usage``: usage and cost of the model gateway per key and model (the operator:
every tenant's or one; a tenant: its own; a supplier: 403)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name, Period
from suanli.api.schemas.inference_usage import InferenceUsageResponse
from suanli.service import inference_usage

router = APIRouter(tags=["inference"])


@router.get("/v1/inference/usage", response_model=InferenceUsageResponse)
def read_usage(p: PlatformDep, who: PrincipalDep, period: Period | None = None, tenant: Name | None = None) -> Any:
    """Rows per (tenant, key, model) of the month (default: this month, UTC): requests, prompt, cached and
    completion tokens, and cost (the model's token charges of the tenant's invoice draft split across keys
    by tokens); totals equal the drafts' token lines."""
    u = inference_usage.usage(p, who, period, tenant)
    t = u.totals
    return {"period": u.period, "currency": u.currency, "as_of": u.as_of,
            "rows": [{"tenant": u.tenants.get(r.tenant_id, r.tenant_id), "token_id": r.token_id, "prefix": r.prefix,
                      "label": r.label, "model": r.model, "requests": r.requests, "prompt_tokens": r.prompt_tokens,
                      "cached_tokens": r.cached_tokens, "completion_tokens": r.completion_tokens, "cost": r.cost}
                     for r in u.rows],
            "totals": {"requests": t.requests, "prompt_tokens": t.prompt_tokens, "cached_tokens": t.cached_tokens,
                       "completion_tokens": t.completion_tokens, "cost": t.cost}}

"""Wire schemas of ``GET /v1/inference/usage``: usage and cost per inference key and model."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel


class KeyModelUsageResponse(BaseModel):
    """One (tenant, key, model) of the month. ``token_id`` null: requests of no key, or token charges
    no request accounts for (usage reported through the usage API)."""

    tenant: str
    token_id: int | None = None
    prefix: str = ""
    label: str = ""
    model: str
    requests: int
    prompt_tokens: int
    """All prompt tokens, the cached ones included."""
    cached_tokens: int
    completion_tokens: int
    cost: Decimal
    """This row's share of the model's token charges on the tenant's invoice (draft) for the month:
    split across keys in proportion to tokens per meter, rounded down, the remainder to the
    largest row (docs/inference.md)."""


class InferenceUsageTotals(BaseModel):
    requests: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost: Decimal
    """Equals the token lines of the invoices (drafts) of the tenants shown."""


class InferenceUsageResponse(BaseModel):
    period: str
    currency: str
    as_of: datetime
    rows: list[KeyModelUsageResponse]
    totals: InferenceUsageTotals

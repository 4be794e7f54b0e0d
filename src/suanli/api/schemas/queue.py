"""Wire schemas of the order queue (docs/queue.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Exact, Name, Wire


class QueueEntryResponse(BaseModel):
    order_id: str
    tenant: str
    form: str
    spec: dict[str, Any]
    priority: str
    position: int = Field(description="1 = served next: priority class, then weighted fair share, then arrival")
    queued_at: datetime
    wait_until: datetime
    estimated_start: datetime | None = Field(description="from the reservation calendar; none: not within the horizon")
    preempting: list[str] = Field(description="spot leases under notice to make room for it")


class WhenResponse(BaseModel):
    answer: str = Field(description="'now', an ISO-8601 instant, or 'not within the horizon (until …)'")
    now: bool
    start: datetime | None
    horizon_end: datetime
    ahead: int = Field(description="queued orders of this priority class or higher counted ahead of it")


class WeightRequest(Wire):
    tenant: Name
    weight: Exact = Field(description="fair-share weight: a decimal string or integer, 0.01 to 1000 (default 1 for "
                                      "a tenant without one)")
    allow_high: bool | None = Field(None, description="may the tenant order priority high (unchanged if left out)")


class WeightResponse(BaseModel):
    tenant: str
    weight: str
    allow_high: bool
    set_at: datetime | None

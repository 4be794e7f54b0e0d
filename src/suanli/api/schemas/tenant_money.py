"""Wire schemas of a tenant's money views: cost to date per lease."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from suanli.api.schemas.common import Dec


class LeaseCostMonth(BaseModel):
    period: str
    amount: Dec
    source: str
    """The issued invoice's id the amount comes from, or ``draft`` (the month's draft, to now)."""


class LeaseCost(BaseModel):
    lease: str
    state: str
    currency: str
    cost_to_date: Dec
    """Sum of the invoice lines that name the lease, every month (before tax, vouchers, credits, wallet)."""
    this_month: Dec
    months: list[LeaseCostMonth]


class LeaseCostsResponse(BaseModel):
    tenant: str
    currency: str
    as_of: datetime
    items: list[LeaseCost]

"""Wire schema of the operator's overview (``GET /v1/reports/overview``); importable without FastAPI."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Money


class FractionTrend(BaseModel):
    """A fraction in [0, 1] (decimal string, 4 places at most) now and the one it is compared with."""

    now: Dec | None
    before: Dec | None
    delta: Dec | None = Field(description="now - before, when both are known")


class MoneyTrend(BaseModel):
    """An amount in the operator's currency now and the one it is compared with."""

    now: Money | None
    before: Money | None
    delta: Money | None = Field(description="now - before, when both are known")


class OverviewCounts(BaseModel):
    idle_whole_gpus: int = Field(description="devices on available nodes that nothing holds")
    fragmented_gpus: int = Field(description="devices on available nodes partly held")
    down_nodes: int
    maintenance_nodes: int
    suspended_leases: int
    interrupted_leases: int
    unpaid_invoices: int = Field(description="issued invoices not paid yet")
    low_runway_tenants: int = Field(description="prepaid tenants below their warning runway, or suspended")


class OverviewIdle(BaseModel):
    """Idle capacity now, device-equivalents."""

    fragmented: Dec = Field(description="free capacity the typical requests cannot use (FGD)")
    unrented: Dec = Field(description="free capacity the typical requests can use")
    down: Dec = Field(description="devices on nodes down or in maintenance")


class OverviewResponse(BaseModel):
    """The start page's figures. Comparisons: allocation, run-rate vs 24 h earlier; lease rate: the last
    24 h vs the 24 h before; revenue, commission, margin: this month to date vs last month over the same time."""

    as_of: datetime
    currency: str
    devices: int = Field(description="devices on available nodes")
    allocation: FractionTrend
    utilisation: FractionTrend
    lease_rate: FractionTrend
    revenue_mtd: MoneyTrend
    commission_mtd: MoneyTrend
    run_rate: MoneyTrend = Field(description="charges per hour of the leases held at the instant")
    energy_cost_today: Money | None = Field(description="power cost since midnight in the operator's time zone")
    energy_cost_mtd: Money | None
    power_cost_per_hour: Money | None = Field(description="facility power now x the sites' power prices")
    idle: OverviewIdle
    margin_mtd: MoneyTrend
    counts: OverviewCounts
    low_runway: list[str] = Field(description="names of the low-runway tenants")
    sources: dict[str, str] = Field(description="where each figure comes from, in words")

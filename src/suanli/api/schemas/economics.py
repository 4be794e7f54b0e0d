"""Wire schemas of the economics routes (investment inputs, ``/v1/reports/economics`` and
``/v1/reports/revenue``); importable without FastAPI. Ranges are checked by
:mod:`suanli.domain.investment` (a 422 names the field and what is allowed)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt, StrictStr

from suanli.api.schemas.common import Dec, Exact, Money, Wire


class SettingsIn(Wire):
    life_years: StrictInt | StrictStr | None = Field(None, description="Years of service, 1 to 30 (default 5).")
    debt_share: Exact | None = Field(None, description="Share of capex borrowed, 0 to 1 (0.6 = 60 %).")
    interest_rate: Exact | None = Field(None, description="Loan interest per year, 0 to 1 (0.045 = 4.5 %).")
    loan_years: StrictInt | StrictStr | None = Field(None, description="Years the loan is repaid over, 0 to life_years.")
    discount_rate: Exact | None = Field(None, description="Yearly rate NPV discounts at, 0 to 1.")
    price_decline: Exact | None = Field(None, description="Expected yearly fall of prices, 0 to 1.")


class SiteOpexIn(Wire):
    site: str = Field(max_length=64)
    staff: Exact | None = None
    racks: Exact | None = Field(None, description="Racks / colocation per year.")
    bandwidth: Exact | None = None
    other: Exact | None = None


class NodeCapexIn(Wire):
    node: str = Field(max_length=120)
    capex: Exact | None = Field(None, description="Purchase price, >= 0, in the operator's currency.")
    residual: Exact | None = Field(None, description="Value at the end of the life, 0 to capex.")
    purchased_on: str | None = Field(None, max_length=40, description="YYYY-MM-DD")
    currency: str | None = Field(None, max_length=3)


class InputsRequest(Wire):
    """Any of the three; everything is checked before anything is written (all or nothing)."""

    settings: SettingsIn | None = None
    sites: list[SiteOpexIn] = Field(default_factory=list, max_length=10_000)
    nodes: list[NodeCapexIn] = Field(default_factory=list, max_length=100_000)


class SettingsOut(BaseModel):
    life_years: int
    debt_share: Dec
    interest_rate: Dec
    loan_years: int
    discount_rate: Dec
    price_decline: Dec


class SiteOpexOut(BaseModel):
    site: str
    staff: Money
    racks: Money
    bandwidth: Money
    other: Money
    total: Money


class NodeCapexOut(BaseModel):
    node: str
    site: str
    model: str
    devices: int
    supplier: str
    capex: Money | None
    residual: Money | None
    purchased_on: str | None
    currency: str


class InputsResponse(BaseModel):
    currency: str
    settings: SettingsOut
    sites: list[SiteOpexOut]
    nodes: list[NodeCapexOut]


class InputsChanged(BaseModel):
    settings: bool
    sites: int
    nodes: int


class SensitivityRow(BaseModel):
    price_decline: Dec
    payback_years: Dec | None = Field(description="null: not within the life")
    npv: Money
    irr: Dec | None = Field(description="null: no sign change of the cash flows")


class EconomicsGroup(BaseModel):
    group: str
    nodes: int
    devices: int
    p: Dec = Field(description="compute of the group's devices, PFLOPS (dense FP16/BF16)")
    nodes_without_capex: int
    capex: Money
    residual: Money
    depreciation_per_year: Money
    opex_per_year: Money
    revenue: Money
    provisional_revenue: Money = Field(description="part of revenue from invoices not issued yet")
    revenue_per_year: Money
    supplier_share: Money
    supplier_share_rate: Dec
    energy_cost: Money | None = Field(description="null: no energy figures (counted as 0)")
    energy_cost_per_year: Money
    depreciation: Money
    opex: Money
    interest: Money
    gross_margin: Money
    net_margin: Money
    lease_rate: Dec | None = Field(description="rented ÷ available P-hours from the billed device time (the "
                                               "break-even figures use it)")
    lease_rate_sampled: Dec | None = Field(None, description="the capacity series' lease rate over the time it "
                                                             "sampled (null: not sampled)")
    realised_price_p_year: Money | None
    list_price_p_year: Money | None
    debt: Money
    annuity: Money
    equity_outlay: Money
    payback_years: Dec | None = Field(description="null: not within the life")
    irr: Dec | None
    npv: Money
    breakeven_revenue_per_year: Money | None
    breakeven_price_p_year: Money | None
    breakeven_lease_rate: Dec | None
    sensitivity: list[SensitivityRow]
    curve: list[Money] = Field(description="cumulative equity cash at the end of each month 0..12 x life")


class OversubFactorOut(BaseModel):
    site: str
    model: str
    factor: Dec
    discount_pct: Dec
    offered: bool
    set_by: str
    set_at: datetime


class OversubscriptionOut(BaseModel):
    in_force: list[OversubFactorOut]
    burstable_revenue: Dec = Field(description="the period's burstable slices at list price less their discount")
    extra_revenue: Dec = Field(description="burstable revenue less what the device capacity they took would have "
                                           "brought sold guaranteed at list price")


class EconomicsResponse(BaseModel):
    by: str
    start: datetime
    end: datetime
    days: Dec
    currency: str
    as_of: datetime
    settings: SettingsOut
    energy_source: str = Field(description="capacity_report (energy from the capacity series) or none (counted as 0)")
    groups: list[EconomicsGroup]
    oversubscription: OversubscriptionOut | None = None
    """OVERSUB: the factors in force and what burstable slices brought over the period (docs/slices.md)."""


class RevenueFigures(BaseModel):
    revenue: Money
    provisional_revenue: Money
    supplier_share: Money
    commission: Money
    device_hours: Dec
    p_years_sold: Dec
    realised_price_p_year: Money | None
    list_price_p_year: Money | None
    lease_rate: Dec | None


class RevenueGroup(RevenueFigures):
    group: str
    nodes: int


class PeriodRevenueResponse(BaseModel):
    by: str
    start: datetime
    end: datetime
    currency: str
    as_of: datetime
    groups: list[RevenueGroup]
    total: RevenueFigures
    note: str

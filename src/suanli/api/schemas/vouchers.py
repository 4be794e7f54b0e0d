"""Wire schemas for the voucher rules: contracts, claims, redemptions, approved suppliers, start-ups.

The voucher itself, its audit rows and related parties are in :mod:`suanli.api.schemas.money`.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, StrictBool

from suanli.api.schemas.common import Amount, Day, Dec, Name, Text, Wire


class ContractRequest(Wire):
    plan: Name = Field(description="The paid contract: a tenant's price plan with paid: true.")
    signed_on: Day
    value: Amount = Field(description="The contract's total value, in the operator's currency.")
    other_subsidy: Text = Field("", description="Another municipal subsidy on this contract ('' = none).")


class ContractResponse(BaseModel):
    plan: str
    tenant: str
    signed_on: date
    value: Dec
    other_subsidy: str
    term_start: datetime
    term_end: datetime | None


class ClaimRequest(Wire):
    contract: Name = Field(description="The plan id of the paid contract the voucher is claimed against.")


class ClaimResponse(BaseModel):
    id: str
    voucher: str
    contract: str
    at: datetime


class RedemptionRequest(Wire):
    invoice: Name = Field(description="An issued (or paid) invoice of the voucher's tenant.")
    evidence: Text = Field(description="A delivery evidence reference (acceptance record, delivery note ...).")


class RedemptionLine(BaseModel):
    line_no: int
    outcome: str
    amount: Dec
    rule: str
    rule_text: str


class RedemptionResponse(BaseModel):
    id: str
    voucher: str
    contract: str
    invoice: str
    evidence: str
    amount: Dec
    to: str
    at: datetime
    lines: list[RedemptionLine]


class ApprovedSupplierRequest(Wire):
    scheme: Name
    supplier: Name


class ApprovedSuppliersResponse(BaseModel):
    scheme: str
    suppliers: list[str]


class FirmRequest(Wire):
    startup: StrictBool
    note: Text = ""


class FirmResponse(BaseModel):
    tenant: str
    startup: bool
    note: str


class SchemeResponse(BaseModel):
    scheme: str
    title: str
    max_percent: Dec
    startup_percent: Dec | None
    firm_annual_cap: Dec | None
    of_contract: bool
    rent_only: bool
    claim_required: bool
    signed_on_or_after: date | None
    max_term_months: int | None
    approved_suppliers: bool
    no_other_subsidy: bool

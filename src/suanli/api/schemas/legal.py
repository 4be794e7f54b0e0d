"""Wire schemas for invoices ready for China (legal profiles, tax rates) and supplier payouts and
earnings. Amounts and rates are decimal strings both ways."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Exact, Instant, Money, Name, Text, Wire
from suanli.domain.invoices import InvoiceStatus


class LegalProfileRequest(Wire):
    """A party's details as its invoices print them. ``tax_id``: the 18-character unified social
    credit code (统一社会信用代码, check character verified), or any tax id with ``foreign_tax_id``."""

    legal_name: Text = Field(description="The registered legal name, e.g. 北京某某科技有限公司 (at most 200 characters).")
    tax_id: Text = Field(description="统一社会信用代码 (18 characters, GB 32100-2015), or a foreign tax id.")
    foreign_tax_id: bool = Field(False, description="The party is registered outside mainland China: any tax id "
                                                    "of 1-40 letters, digits, spaces, '-', '/', '.'.")
    address: Text = ""
    phone: Text = ""
    bank_name: Text = Field("", description="开户行.")
    bank_account: Text = Field("", description="银行账号.")
    invoice_type: Name | None = Field(None, description="A buyer's: normal (增值税普通发票, default) or special "
                                                        "(增值税专用发票: address, phone, bank and account required).")


class LegalProfileResponse(BaseModel):
    party: str = Field(description="``seller``, or the buyer's tenant name.")
    legal_name: str
    tax_id: str
    foreign_tax_id: bool
    address: str
    phone: str
    bank_name: str
    bank_account: str
    invoice_type: str
    invoice_type_name: dict[str, str]
    updated_at: datetime | None
    updated_by: str


class TaxRateRequest(Wire):
    product_type: Name = Field(description="compute, package, storage, traffic or tokens.")
    rate: Exact = Field(description="A fraction from 0 (inclusive) to 1 (exclusive), at most 4 places: 0.06 is 6 %.")
    effective_from: Instant | None = Field(None, description="From when (default now; never in the past).")
    reason: Text = ""


class TaxRateResponse(BaseModel):
    product_type: str
    rate: Dec
    effective_from: datetime
    set_at: datetime
    set_by: str
    reason: str


class TaxRateInForce(BaseModel):
    product_type: str
    name: dict[str, str]
    rate: Dec
    set: bool = Field(description="The operator set it (else it is the default, SUANLI_TAX_RATE).")


class TaxRatesResponse(BaseModel):
    as_of: datetime
    default: Dec = Field(description="SUANLI_TAX_RATE: the rate of a product type with none set.")
    in_force: list[TaxRateInForce]
    rates: list[TaxRateResponse]


class PayoutResponse(BaseModel):
    id: str
    supplier: str
    amount: Money
    currency: str
    paid_on: date
    reference: str
    periods: list[str]
    idempotency_key: str
    recorded_at: datetime
    recorded_by: str
    owed_after: Money | None = Field(None, description="What is still owed to the supplier after it (on recording).")


class EarningsNode(BaseModel):
    node: str
    device_hours: Dec
    gross: Money
    supplier_share: Money
    commission: Money


class EarningsResponse(BaseModel):
    """A supplier's earnings to date; the month's part is provisional until each tenant is invoiced."""

    supplier: str
    currency: str
    period: str
    as_of: datetime
    status: InvoiceStatus
    note: str
    provisional_tenants: int
    provisional_gross: Money
    provisional_share: Money
    provisional_commission: Money
    provisional_nodes: list[EarningsNode]
    period_issued_share: Money
    issued_share: Money
    sla_share: Money
    paid: Money
    owed: Money
    earned_to_date: Money = Field(description="issued_share - sla_share + provisional_share.")


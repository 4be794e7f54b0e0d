"""Wire schemas for money: usage events, plans, wallets, vouchers, packages, billed invoices, statements.

Amounts and quantities are decimal strings (never floats) both ways.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

from suanli.api.schemas.common import (
    MAX_COUNT,
    MAX_LIST,
    Amount,
    Cents,
    Count,
    Day,
    Days,
    Dec,
    Exact,
    HoursOrZero,
    Instant,
    Label,
    Money,
    Name,
    NameOrEmpty,
    Period,
    Reference,
    Text,
    Wire,
)
from suanli.domain.invoices import InvoiceStatus
from suanli.domain.money import minor


class UsageEvent(BaseModel):
    """A CloudEvents-shaped usage event; validated in full by the server (meters, subject, quantity)."""

    id: str
    source: str
    type: str
    subject: str
    time: str
    data: dict[str, Any]
    specversion: str | None = None
    datacontenttype: str | None = None


class UsageBatchRequest(Wire):
    events: list[dict[str, Any]] = Field(max_length=MAX_COUNT, description="Up to 10,000 usage events; all or nothing.")


class IngestResponse(BaseModel):
    received: int
    accepted: int
    duplicates: int


class UsageSummaryResponse(BaseModel):
    tenant: str
    meter: str
    model: str
    quantity: Dec
    events: int


class TopUpRequest(Wire):
    tenant: Name
    amount: Cents = Field(description="Money received: a decimal string in whole cents, > 0, at most 10^9.")
    reference: Reference = Field("", description="The payment's reference (at most 64 characters); "
                                                 "default a new one")


class CreditGrantRequest(Wire):
    tenant: Name
    amount: Cents = Field(description="A decimal string in whole cents, > 0, at most 10^9.")
    reason: Text


class WalletPolicyRequest(Wire):
    tenant: Name
    warn_hours: HoursOrZero = Decimal(24)
    suspend_hours: HoursOrZero = Decimal(1)


class WalletResponse(BaseModel):
    tenant: str
    currency: str
    balance: Dec
    credits: Dec
    prepaid: bool
    warn_hours: Dec
    suspend_hours: Dec
    burn_per_hour: Dec
    accrued: Dec
    runway_hours: Dec | None
    standing: str
    suspended_leases: list[str]


class VoucherRequest(Wire):
    tenant: Name
    issuer: Name
    percent: Exact = Field(description="Fraction of each eligible line paid (0.3 = 30 %), above 0 up to 1 "
                                       "(checked by the voucher rules).")
    cap: Amount
    valid_from: Instant
    valid_to: Instant
    scheme: Name = Field("custom", description="Rule preset: custom, beijing, shanghai, shenzhen (docs/billing.md).")


class VoucherResponse(BaseModel):
    id: str
    issuer: str
    tenant: str
    scheme: str = "custom"
    rules: str = ""
    percent: Dec
    cap: Dec
    used: Dec
    left: Dec
    valid_from: datetime
    valid_to: datetime
    claims: list[dict[str, Any]] = []


class VoucherAuditRow(BaseModel):
    voucher: str
    issuer: str
    tenant: str
    scheme: str
    outcome: str
    rule: str
    """The rule that allowed (``percent_of_line``, ``capped_by_*``) or refused the line."""
    rule_text: str
    amount: Dec
    at: datetime
    invoice: str
    invoice_status: str
    period: str
    line_no: int
    line_kind: str
    line_amount: Dec
    contract: str
    supplier: str
    model: str
    lease: str


class RelatedPartyRequest(Wire):
    tenant: Name
    supplier: Name
    note: Text = ""


class VolumeTierWire(Wire):
    min_count: Count = Field(description="Buying at least this many packages at once ...")
    price: Amount = Field(description="... costs this much each.")


class PackageProductRequest(Wire):
    """A package product (operator). Validity: ``valid_days`` from the purchase, or fixed dates
    (``valid_from`` and ``valid_to``)."""

    name: Label
    meter: Name
    quantity: Amount = Field(description="Per package, in unit.")
    unit: Name = Field("units", description="units (the meter's price unit) | p_hours (device-hours x P)")
    model: NameOrEmpty = Field("", description="Only usage of this model draws it (empty: any model).")
    site: NameOrEmpty = Field("", description="Only usage at this site draws it (empty: any site).")
    price: Amount = Field(description="Per package.")
    tiers: list[VolumeTierWire] = Field([], max_length=100,
                                        description="Volume tiers: buying >= min_count costs price each.")
    valid_days: Days | None = None
    valid_from: Instant | None = None
    valid_to: Instant | None = None


class ProductPriceRequest(Wire):
    """A new price for purchases from now on (operator); ``tiers`` omitted keeps the tiers."""

    price: Amount
    tiers: list[VolumeTierWire] | None = Field(None, max_length=100)


class PackageProductResponse(BaseModel):
    id: str
    name: str
    meter: str
    model: str
    site: str
    unit: str
    quantity: Dec
    price: Dec
    tiers: list[dict[str, Any]]
    valid_days: int | None
    valid_from: datetime | None
    valid_to: datetime | None
    state: str
    created_at: datetime | None
    updated_at: datetime | None


class PackageBuyRequest(Wire):
    """A tenant buys ``count`` packages of a product at its listed price (volume tier applied).
    There is no price field: tenants cannot set prices."""

    product: Label = Field(description="The product's id or name (GET /v1/package-products).")
    count: Count = Field(1, description="How many packages (1 to 10,000).")


class PackageSaleRequest(Wire):
    """The operator sells a tenant a package with a reason: a product at another price (``price`` each;
    default the list price), or a custom package (no ``product``: meter, quantity, expires_at, price)."""

    tenant: Name
    reason: Text
    product: Label | None = None
    count: Count = 1
    price: Amount | None = Field(None, description="Each package.")
    meter: Name | None = None
    quantity: Amount | None = Field(None, description="Custom package: per package, in unit.")
    unit: Name = "units"
    model: NameOrEmpty = ""
    site: NameOrEmpty = ""
    starts_at: Instant | None = None
    expires_at: Instant | None = None


class PackageResponse(BaseModel):
    id: str
    tenant: str
    product: str
    product_name: str
    meter: str
    model: str
    site: str
    unit: str
    count: int
    quantity: Dec
    used: Dec
    left: Dec
    price: Dec = Field(description="What the tenant paid for the whole purchase.")
    list_price: Dec | None = Field(description="The listed price the operator's sale departed from (None: the "
                                               "list price, or a custom package).")
    sold_by: str = Field(description="The operator who sold it at a price of its choosing (empty: bought).")
    reason: str
    starts_at: datetime
    expires_at: datetime


class PlanResponse(BaseModel):
    id: str
    tenant: str
    kind: str
    order: str
    name: str
    effective_from: datetime
    effective_to: datetime | None
    paid: bool
    rates: list[dict[str, Any]]
    discount: str
    term: str | None
    term_model: str
    term_devices: str
    commit_meter: str | None
    commit_model: str
    commit_quantity: str
    commit_price: str
    commit_devices: str = "0"
    """Devices a take-or-pay (``commit``) holds."""
    reservation: str | None = None
    """The lease holding a ``term`` or ``commit`` plan's devices; None for a plan that holds nothing."""
    training: bool = False
    """A training-token plan (one order): device time shown at 0, training tokens billed at its rate."""


class PlanEndRequest(Wire):
    at: Instant | None = None
    """When the plan ends and gives its devices back: now (omitted) or later, never in the past."""


class IssueRequest(Wire):
    tenant: Name
    period: Period
    vouchers: list[Name] | None = Field(None, max_length=MAX_LIST)


class CreditNoteRequest(Wire):
    amount: Cents = Field(description="What the tenant gets back, > 0, in whole cents (a JSON string).")
    reason: Text


class DebitNoteRequest(Wire):
    amount: Cents = Field(description="What the tenant owes more, > 0, in whole cents (a JSON string).")
    reason: Text = Field(description="Why (printed on the invoice); required.")


class VoidRequest(Wire):
    reason: Text = ""


class PayoutRequest(Wire):
    supplier: Name
    amount: Cents = Field(description="Paid to the supplier, > 0, in whole cents, at most what is owed.")
    paid_on: Day | None = Field(None, description="The day of the transfer (default today, the operator's time "
                                                  "zone; never in the future).")
    reference: Reference = Field("", description="The bank transfer's id (流水号).")
    periods: list[Period] = Field(default_factory=list, max_length=MAX_LIST,
                                  description="The months (YYYY-MM) it pays for.")


ROUNDING = "each line: quantity x unit price, rounded once to 0.01, half up; totals are sums of lines"
"""The one rounding rule (docs/billing.md), shown on every invoice and draft."""


class BilledLine(BaseModel):
    line_no: int
    kind: str
    meter: str
    model: str
    site: str
    supplier: str
    node: str = ""
    lease: str
    plan: str
    package: str
    start: datetime
    end: datetime
    quantity: Dec = Field(description="At the stored precision (12 places), on a draft as on the issued invoice.")
    price_unit: str
    unit_price: Dec = Field(description="At the stored precision (12 places), on a draft as on the issued invoice.")
    amount: Money
    records: int
    usage_period: str
    description: str
    supplier_share: Money | None = None
    commission: Money | None = None


class SlaCreditApplied(BaseModel):
    """An SLA credit (time lost to a node failure) posted to the ledger by the invoice and spent as a
    credit; ``parts`` (not shown to tenants) says which supplier and node bore how much."""

    id: int
    lease: str
    start: datetime
    end: datetime | None
    seconds: int
    amount: Money
    reason: str
    parts: list[dict[str, str]] | None = None


class CreditNoteApplied(BaseModel):
    id: str
    amount: Money
    reason: str
    to_wallet: bool
    at: datetime


class InvoiceNoteApplied(BaseModel):
    """A credit or debit note issued on the invoice after issue: by hand or by a price correction
    (``correction``); ``amount`` is what the tenant is credited or owes, tax included. A debit note is
    owed until ``paid_at``."""

    id: str
    kind: str
    amount: Money
    reason: str
    at: datetime
    by: str
    correction: str | None = None
    to_wallet: bool
    paid_at: datetime | None = None


class VoucherOutcomeApplied(BaseModel):
    """What a voucher did on one line: ``used`` (paid ``amount``) or ``refused`` (by ``rule``)."""

    voucher: str
    line_no: int
    outcome: str
    rule: str
    amount: Money


TOTALS = ("subtotal", "tax", "total", "vouchers", "credits", "wallet", "amount_due")


class InvoiceParty(BaseModel):
    """A seller's or buyer's legal details as the invoice prints them."""

    legal_name: str
    tax_id: str
    foreign_tax_id: bool = False
    address: str = ""
    phone: str = ""
    bank_name: str = ""
    bank_account: str = ""
    invoice_type: str = "normal"


class InvoiceTax(BaseModel):
    """The lines taxed at one rate: their product types, summed amounts (``base``) and tax."""

    rate: Dec
    product_types: list[str]
    base: Money
    tax: Money


class InvoiceSummary(BaseModel):
    id: str
    tenant: str
    period: str
    status: InvoiceStatus
    currency: str
    total: Money
    amount_due: Money
    issued_at: datetime

    @model_validator(mode="after")
    def _in_minor_units(self) -> InvoiceSummary:
        self.total, self.amount_due = minor(self.total, self.currency), minor(self.amount_due, self.currency)
        return self


class InvoiceDocument(BaseModel):
    """An invoice document: a draft (``status`` ``preview``: no ``id``, rated as of ``as_of``, to
    date for the current month, nothing written) or an issued invoice (``issued``, ``paid`` or
    ``void``, with its ``id``; ``as_of`` = ``issued_at``). Both have the same fields, and each
    number is written the same way on both: amounts in the currency's minor unit (``48.00``),
    quantities and unit prices at the stored precision."""

    id: str | None = None
    tenant: str
    period: str
    status: InvoiceStatus
    currency: str
    as_of: datetime
    issued_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    records: int
    subtotal: Money
    tax: Money
    total: Money
    vouchers: Money
    credits: Money
    wallet: Money
    amount_due: Money
    rounding: str = ROUNDING
    credit_notes: list[CreditNoteApplied] = []
    voucher_uses: list[VoucherOutcomeApplied] = []
    sla_credits: list[SlaCreditApplied] = []
    notes: list[InvoiceNoteApplied] = Field(default=[], description="Credit and debit notes issued since (none on a draft).")
    credit_notes_total: Money = Decimal(0)
    debit_notes_total: Money = Decimal(0)
    balance_after_notes: Money = Field(description="total - credit notes + debit notes; the issued total is unchanged.")
    outstanding: Money = Field(description="What `pay` collects now: the amount due while issued + unpaid debit notes.")
    lines: list[BilledLine]
    seller: InvoiceParty | None = Field(None, description="The seller's legal profile as issued (a draft: as now); "
                                                          "none where not set, or issued before it was kept.")
    buyer: InvoiceParty | None = Field(None, description="The buyer's legal profile, as the seller's.")
    taxes: list[InvoiceTax] = Field(default=[], description="The tax per rate: each rate's lines (their product "
                                                            "types), base and tax, rounded once per rate.")

    @model_validator(mode="after")
    def _in_minor_units(self) -> InvoiceDocument:
        """Every amount in the currency's minor unit, whoever built the document (server or client)."""
        c = self.currency
        for k in TOTALS:
            setattr(self, k, minor(getattr(self, k), c))
        for x in self.lines:
            x.amount = minor(x.amount, c)
            if x.supplier_share is not None:
                x.supplier_share = minor(x.supplier_share, c)
            if x.commission is not None:
                x.commission = minor(x.commission, c)
        for n in self.credit_notes:
            n.amount = minor(n.amount, c)
        for k in ("credit_notes_total", "debit_notes_total", "balance_after_notes", "outstanding"):
            setattr(self, k, minor(getattr(self, k), c))
        for note in self.notes:
            note.amount = minor(note.amount, c)
        for u in self.voucher_uses:
            u.amount = minor(u.amount, c)
        for s in self.sla_credits:
            s.amount = minor(s.amount, c)
        return self


class BilledInvoiceResponse(InvoiceDocument):
    """An issued invoice (``GET /v1/billing/invoices/{id}``)."""

    id: str
    issued_at: datetime


class PreviewResponse(InvoiceDocument):
    """A tenant's invoice for a month. ``status`` ``preview``: the draft, to date (``as_of``) for the
    current month, nothing written. ``issued``/``paid`` (``GET /v1/invoices/{period}`` of an issued
    month): the issued document itself, with its ``id`` and ``issued_at`` (= ``as_of``)."""


class StatementLine(BaseModel):
    period: str
    node: str
    model: str
    site: str
    leases: int = Field(description="How many leases ran on the node with this model in the period.")
    device_hours: Dec
    gross: Dec
    supplier_share: Dec
    commission: Dec


class StatementNode(BaseModel):
    """One node's subtotal for a period (gross = supplier share + commission)."""

    period: str
    node: str
    device_hours: Dec
    gross: Dec
    supplier_share: Dec
    commission: Dec


class StatementSla(BaseModel):
    """The supplier's part of an SLA credit a tenant got for time lost on its node."""

    period: str
    node: str
    lease: str
    sla_credit: int
    credit: Dec
    supplier_share: Dec


class ProvisionalStatement(BaseModel):
    """What the supplier earns on the drafts of invoices not issued yet (``status`` provisional):
    rated like the invoices, to ``as_of``; it changes until each tenant's invoice is issued."""

    status: InvoiceStatus
    period: str
    as_of: datetime
    tenants: int
    note: str
    lines: list[StatementLine]
    nodes: list[StatementNode]
    gross: Dec
    supplier_share: Dec
    commission: Dec


class StatementResponse(BaseModel):
    supplier: str
    period: str | None
    currency: str
    lines: list[StatementLine]
    nodes: list[StatementNode]
    gross: Dec
    supplier_share: Dec
    commission: Dec
    sla_credits: list[StatementSla] = []
    sla_share: Dec = Decimal(0)
    payable_balance: Dec
    provisional: ProvisionalStatement | None = None


class RevenueReportResponse(BaseModel):
    period: str | None
    currency: str
    invoices: int
    charges: Dec
    tax: Dec
    supplier_gross: Dec = Field(Decimal(0), description="Charges on suppliers' nodes (share + commission on them).")
    supplier_commission: Dec = Decimal(0)
    operator_own: Dec = Field(Decimal(0), description="Charges with no node, so no supplier: the operator's own "
                                                      "revenue (tokens from a gateway, storage, fees, true-ups).")
    operator_own_by: dict[str, Dec] = Field(default_factory=dict, description="The operator's own, per meter or fee.")
    supplier_share: Dec
    commission: Dec
    vouchers: Dec
    credits: Dec
    wallet: Dec
    amount_due: Dec
    by_kind: dict[str, Dec]
    by_supplier: dict[str, Dec]
    sla_credits: Dec = Decimal(0)
    sla_supplier_share: Dec = Decimal(0)
    ledger_sum: Dec


class LedgerCheckResponse(BaseModel):
    accounts: dict[str, Dec]
    sum: Dec
    unbalanced_entries: list[int]

"""Money tables: usage events, price plans, packages, vouchers, invoices, the ledger, wallets.

Invariants kept by the database:
- ``usage_events (source, event_id)`` unique: an event is ingested once (a resend is a no-op).
- ``invoices (tenant_id, period)`` unique among invoices that are not void: one live invoice
  per tenant and month.
- ``voucher_uses.line_id`` unique: a charge line takes at most one voucher (no double subsidy).
- ``sla_credit_postings.sla_credit_id`` primary key: an SLA credit reaches the ledger once.
- ``ledger_postings`` is append-only (triggers refuse UPDATE and DELETE) and, on PostgreSQL, a
  deferred constraint trigger refuses a commit in which an entry's postings do not sum to zero.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class UsageEventRow(Base):
    __tablename__ = "usage_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    meter: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    model: Mapped[str] = mapped_column(String(64), default="")
    site: Mapped[str] = mapped_column(String(64), default="")
    supplier: Mapped[str] = mapped_column(String(64), default="")
    node: Mapped[str] = mapped_column(String(120), default="")
    lease: Mapped[str] = mapped_column(String(32), default="")
    order_id: Mapped[str] = mapped_column(String(32), default="")
    payload_hash: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(7))
    """The invoice month it bills on: its own month, or the next open one if that was closed."""
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_usage_events_source_id"),
        CheckConstraint("quantity >= 0", name="ck_usage_events_quantity"),
        Index("ix_usage_events_tenant_period", "tenant_id", "period"),
    )


class PricePlanRow(Base):
    __tablename__ = "price_plans"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(32), index=True)
    """An account id, or ``*`` for the platform's default plan."""
    order_id: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    effective_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("kind in ('payg','spot','term','commit','spend_commitment')",
                                      name="ck_price_plans_kind"),)


class PackageRow(Base):
    __tablename__ = "packages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    meter: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    site: Mapped[str] = mapped_column(String(64), default="", server_default="")
    product_id: Mapped[str | None] = mapped_column(ForeignKey("package_products.id", name="fk_packages_product_id"),
                                                   nullable=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    list_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    sold_by: Mapped[str] = mapped_column(String(120), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    bought_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", name="fk_packages_bought_by"),
                                                  nullable=True, index=True)
    """The member (or the organisation's own account) that bought it at the listed price (0018)."""
    __table_args__ = (CheckConstraint("expires_at > starts_at", name="ck_packages_window"),)


class PackageProductRow(Base):
    """A package the operator sells; ``tiers`` is a JSON list of ``{"min_count": int, "price": "decimal"}``."""

    __tablename__ = "package_products"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    meter: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64), default="")
    site: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    valid_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("(valid_days IS NULL) != (valid_to IS NULL)", name="ck_package_products_validity"),
        CheckConstraint("state IN ('active', 'retired')", name="ck_package_products_state"),
    )


class VoucherRow(Base):
    __tablename__ = "vouchers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(120))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    percent: Mapped[Decimal] = mapped_column(DecimalText)
    cap: Mapped[Decimal] = mapped_column(DecimalText)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheme: Mapped[str] = mapped_column(String(16), default="custom", server_default="custom")
    """The rule preset (``ledger.vouchers.Scheme``): custom, beijing, shanghai, shenzhen."""
    __table_args__ = (CheckConstraint("valid_to > valid_from", name="ck_vouchers_window"),)


class VoucherContractRow(Base):
    """What a voucher needs to know about a paid contract (a plan with ``paid: true``), keyed by plan id."""

    __tablename__ = "voucher_contracts"
    plan_id: Mapped[str] = mapped_column(ForeignKey("price_plans.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(DecimalText)
    other_subsidy: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VoucherClaimRow(Base):
    """A voucher claimed against a contract. ``contract`` is UNIQUE: one claim per contract, ever
    (claiming it twice, with the same voucher or another, is refused by the database)."""

    __tablename__ = "voucher_claims"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id"), index=True)
    contract: Mapped[str] = mapped_column(ForeignKey("voucher_contracts.plan_id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("contract", name="uq_voucher_claims_contract"),)


class VoucherRedemptionRow(Base):
    """A claim redeemed against an issued invoice with delivery evidence: once per (voucher, invoice)."""

    __tablename__ = "voucher_redemptions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id"), index=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("voucher_claims.id"))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    evidence: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("voucher_id", "invoice_id", name="uq_voucher_redemptions_invoice"),)


class VoucherSupplierRow(Base):
    """A supplier on a scheme's approved list (operator-managed)."""

    __tablename__ = "voucher_approved_suppliers"
    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    supplier: Mapped[str] = mapped_column(ForeignKey("suppliers.name"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class VoucherFirmRow(Base):
    """Voucher attributes of a tenant (firm) the operator sets: a start-up (Shenzhen's 60 %)."""

    __tablename__ = "voucher_firms"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    startup: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")


class RelatedPartyRow(Base):
    """A registered relation between a buyer (tenant) and a supplier: vouchers never pay such deals."""

    __tablename__ = "related_parties"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    supplier: Mapped[str] = mapped_column(ForeignKey("suppliers.name"), primary_key=True)
    note: Mapped[str] = mapped_column(Text, default="")


class InvoiceRow(Base):
    __tablename__ = "invoices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(DecimalText)
    tax: Mapped[Decimal] = mapped_column(DecimalText)
    total: Mapped[Decimal] = mapped_column(DecimalText)
    vouchers: Mapped[Decimal] = mapped_column(DecimalText)
    credits: Mapped[Decimal] = mapped_column(DecimalText)
    wallet: Mapped[Decimal] = mapped_column(DecimalText)
    amount_due: Mapped[Decimal] = mapped_column(DecimalText)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        CheckConstraint("status in ('issued','paid','void')", name="ck_invoices_status"),
        Index("uq_invoices_live_period", "tenant_id", "period", unique=True,
              sqlite_where=text("status != 'void'"), postgresql_where=text("status != 'void'")),
    )


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    meter: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64), default="")
    site: Mapped[str] = mapped_column(String(64), default="")
    supplier: Mapped[str] = mapped_column(String(64), default="", index=True)
    node: Mapped[str] = mapped_column(String(120), default="", server_default="")
    """The node the usage ran on (supplier statements group by it); empty for fees and tokens."""
    lease: Mapped[str] = mapped_column(String(32), default="")
    plan: Mapped[str] = mapped_column(String(32), default="")
    package: Mapped[str] = mapped_column(String(32), default="")
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price_unit: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[Decimal] = mapped_column(DecimalText)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    supplier_share: Mapped[Decimal] = mapped_column(DecimalText)
    commission: Mapped[Decimal] = mapped_column(DecimalText)
    records: Mapped[int] = mapped_column(Integer)
    usage_period: Mapped[str] = mapped_column(String(7))
    description: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("invoice_id", "line_no", name="uq_invoice_lines_no"),)


class PackageDrawRow(Base):
    __tablename__ = "package_draws"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    __table_args__ = (UniqueConstraint("package_id", "invoice_id", name="uq_package_draws"),)


class VoucherUseRow(Base):
    __tablename__ = "voucher_uses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    rule: Mapped[str] = mapped_column(String(32), default="percent_of_line", server_default="percent_of_line")
    """What set the amount (``ledger.vouchers.RULE_TEXT``): the percent of the line or the binding cap."""


class VoucherRefusalRow(Base):
    __tablename__ = "voucher_refusals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"))
    rule: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CreditNoteRow(Base):
    __tablename__ = "credit_notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    reason: Mapped[str] = mapped_column(Text)
    to_wallet: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    ref: Mapped[str] = mapped_column(String(96), default="", server_default="", index=True)
    """What the platform wrote the note for (``term_fee:<plan>:<period start>``); "" for a manual note."""


class LedgerEntryRow(Base):
    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    memo: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))


class LedgerPostingRow(Base):
    __tablename__ = "ledger_postings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(160), index=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)


class SlaCreditPostingRow(Base):
    """An SLA credit (``sla_credits`` row) posted to the ledger: once, keyed by the credit's id.

    ``parts`` records who bore it: ``[{"supplier", "node", "amount", "supplier_share"}]`` (the
    operator bears ``amount - sum(supplier_share)``). ``invoice_id`` is the invoice whose issue
    posted it (the tenant's next invoice, which spends it as a credit)."""

    __tablename__ = "sla_credit_postings"
    sla_credit_id: Mapped[int] = mapped_column(ForeignKey("sla_credits.id"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    lease_id: Mapped[str] = mapped_column(String(32))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    supplier_share: Mapped[Decimal] = mapped_column(DecimalText)
    parts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletPolicyRow(Base):
    """A prepaid tenant's runway rule and standing; ``suspended`` lists leases the rule suspended."""

    __tablename__ = "wallet_policies"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    warn_hours: Mapped[Decimal] = mapped_column(DecimalText)
    suspend_hours: Mapped[Decimal] = mapped_column(DecimalText)
    standing: Mapped[str] = mapped_column(String(8), default="ok")
    suspended: Mapped[list[str]] = mapped_column(JSON, default=list)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LeaseQuoteRow(Base):
    """A lease's price quote for one (model, site), from ``valid_from`` on (:mod:`suanli.ledger.quotes`).

    Written at the grant (``valid_from`` = the lease's start) and, for the added time, by an
    extension (``valid_from`` = the old end); never updated. ``binding``: the lease is billed at
    it (fixed term or reservation); else it only shows what the lease cost at the grant."""

    __tablename__ = "lease_quotes"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    device_hour: Mapped[Decimal] = mapped_column(DecimalText)
    list_device_hour: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    plan_id: Mapped[str] = mapped_column(String(32), default="")
    basis: Mapped[str] = mapped_column(String(16))
    binding: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3))
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("basis in ('plan_rate','commit_price','list')", name="ck_lease_quotes_basis"),
    )

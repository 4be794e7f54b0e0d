"""Invoices for China and supplier payouts (migration 0026): the parties' legal profiles, tax
rates per product type, what an issued invoice keeps of them, and payout records.

Invariants kept by the database:
- ``legal_profiles.party`` unique: one profile for the seller (``seller``) and one per tenant.
- ``tax_rates (product_type, effective_from)`` unique; ``0 <= rate < 1`` is checked by the domain
  (:func:`suanli.domain.tax.check_rate`); rows are only ever added (a later rate supersedes).
- ``invoice_legal.invoice_id`` primary key: an invoice's seller, buyer and tax groups are written
  once, when it is issued, and never updated.
- ``supplier_payouts (supplier, idempotency_key)`` unique: a retried payout is recorded once;
  ``entry_id`` unique: each payout is one ledger entry.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.legal import InvoiceType, LegalProfile
from suanli.domain.money import minor
from suanli.domain.payouts import Payout
from suanli.domain.tax import ProductType, TaxGroup, TaxRate, group_of
from suanli.store.money_tables import LedgerEntryRow, LedgerPostingRow
from suanli.store.tables import Base, SupplierRow
from suanli.store.types import DecimalText, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
_TYPES = ",".join(f"'{x.value}'" for x in ProductType)


class LegalProfileRow(Base):
    __tablename__ = "legal_profiles"
    party: Mapped[str] = mapped_column(String(32), primary_key=True)
    """``seller`` (the operator) or a tenant account id (a buyer)."""
    legal_name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str] = mapped_column(String(40))
    foreign_tax_id: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    bank_name: Mapped[str] = mapped_column(String(200), default="")
    bank_account: Mapped[str] = mapped_column(String(64), default="")
    invoice_type: Mapped[str] = mapped_column(String(16), default="normal")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    __table_args__ = (CheckConstraint("invoice_type in ('normal','special')", name="ck_legal_profiles_invoice_type"),)


class TaxRateRow(Base):
    __tablename__ = "tax_rates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_type: Mapped[str] = mapped_column(String(16))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    set_by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        UniqueConstraint("product_type", "effective_from", name="uq_tax_rates_type_from"),
        CheckConstraint(f"product_type in ({_TYPES})", name="ck_tax_rates_product_type"),
    )


class InvoiceLegalRow(Base):
    """What an issued invoice keeps of its parties and tax (written once, at issue)."""

    __tablename__ = "invoice_legal"
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    seller: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    buyer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Tax groups: rate, product types, base and tax (decimal strings)."""


class SupplierPayoutRow(Base):
    __tablename__ = "supplier_payouts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    supplier: Mapped[str] = mapped_column(ForeignKey("suppliers.name"), index=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(64), default="")
    periods: Mapped[list[str]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))
    __table_args__ = (
        UniqueConstraint("supplier", "idempotency_key", name="uq_supplier_payouts_key"),
    )


# -- profiles -------------------------------------------------------------------------------------


def _profile(r: LegalProfileRow) -> LegalProfile:
    return LegalProfile(r.party, r.legal_name, r.tax_id, r.foreign_tax_id, r.address, r.phone, r.bank_name,
                        r.bank_account, InvoiceType(r.invoice_type), r.updated_at, r.updated_by)


def get_profile(s: Session, party: str) -> LegalProfile | None:
    r = s.get(LegalProfileRow, party)
    return _profile(r) if r is not None else None


def save_profile(s: Session, p: LegalProfile) -> None:
    """Insert or replace the party's profile (issued invoices keep their own copy)."""
    r = s.get(LegalProfileRow, p.party, with_for_update=True)
    values = {"legal_name": p.legal_name, "tax_id": p.tax_id, "foreign_tax_id": p.foreign_tax_id,
              "address": p.address, "phone": p.phone, "bank_name": p.bank_name, "bank_account": p.bank_account,
              "invoice_type": p.invoice_type.value, "updated_at": p.updated_at, "updated_by": p.updated_by}
    if r is None:
        s.add(LegalProfileRow(party=p.party, **values))
    else:
        for k, v in values.items():
            setattr(r, k, v)
    s.flush()


# -- tax rates ------------------------------------------------------------------------------------


def tax_rates(s: Session) -> list[TaxRate]:
    """Every rate ever set, by product type and effective instant."""
    q = select(TaxRateRow).order_by(TaxRateRow.product_type, TaxRateRow.effective_from)
    return [TaxRate(ProductType(r.product_type), r.rate, r.effective_from, r.set_at, r.set_by, r.reason)
            for r in s.scalars(q)]


def add_tax_rate(s: Session, r: TaxRate) -> bool:
    """Add a rate; ``False`` when the product type already has one from that instant."""
    exists = s.scalar(select(TaxRateRow.id).where(TaxRateRow.product_type == r.product_type.value,
                                                  TaxRateRow.effective_from == r.effective_from))
    if exists is not None:
        return False
    s.add(TaxRateRow(product_type=r.product_type.value, rate=r.rate, effective_from=r.effective_from,
                     set_at=r.set_at, set_by=r.set_by, reason=r.reason))
    s.flush()
    return True


# -- what an issued invoice keeps -----------------------------------------------------------------


def add_invoice_legal(s: Session, invoice_id: str, seller: LegalProfile | None, buyer: LegalProfile | None,
                      taxes: Sequence[TaxGroup]) -> None:
    s.add(InvoiceLegalRow(invoice_id=invoice_id, seller=seller.snapshot() if seller else None,
                          buyer=buyer.snapshot() if buyer else None,
                          taxes=[{"rate": str(g.rate), "product_types": [p.value for p in g.product_types],
                                  "base": str(g.base), "tax": str(g.tax)} for g in taxes]))
    s.flush()


def invoice_legal(s: Session, invoice_id: str
                  ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[TaxGroup]] | None:
    """(seller, buyer, tax groups) as the invoice was issued with; ``None`` for an invoice issued
    before migration 0026 (nothing was kept)."""
    r = s.get(InvoiceLegalRow, invoice_id)
    if r is None:
        return None
    return r.seller, r.buyer, [group_of(g) for g in r.taxes]


def kept_rate(s: Session, invoice_id: str, kind: ProductType) -> Decimal | None:
    """The rate the invoice was issued with for a product type (``None``: not kept, or no such line)."""
    kept = invoice_legal(s, invoice_id)
    if kept is None:
        return None
    return next((g.rate for g in kept[2] if kind in g.product_types), None)


# -- payouts --------------------------------------------------------------------------------------


def _payout(r: SupplierPayoutRow) -> Payout:
    return Payout(r.id, r.supplier, minor(r.amount, r.currency), r.currency, r.paid_on, r.reference,
                  tuple(r.periods), r.idempotency_key, r.recorded_at, r.recorded_by)


def payout_by_key(s: Session, supplier: str, key: str) -> Payout | None:
    r = s.scalar(select(SupplierPayoutRow).where(SupplierPayoutRow.supplier == supplier,
                                                 SupplierPayoutRow.idempotency_key == key))
    return _payout(r) if r is not None else None


def add_payout(s: Session, p: Payout, entry_id: int) -> None:
    s.add(SupplierPayoutRow(id=p.id, supplier=p.supplier, amount=p.amount, currency=p.currency, paid_on=p.paid_on,
                            reference=p.reference, periods=list(p.periods), idempotency_key=p.idempotency_key,
                            entry_id=entry_id, recorded_at=p.recorded_at, recorded_by=p.recorded_by))
    s.flush()


def payouts(s: Session, supplier: str | None = None) -> list[Payout]:
    """Payout records (of one supplier), newest first."""
    q = select(SupplierPayoutRow).order_by(SupplierPayoutRow.recorded_at.desc(), SupplierPayoutRow.id)
    if supplier is not None:
        q = q.where(SupplierPayoutRow.supplier == supplier)
    return [_payout(r) for r in s.scalars(q)]


def lock_supplier(s: Session, supplier: str) -> bool:
    """Lock the supplier's row (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction is already
    exclusive) so that payouts to it are recorded one at a time; ``False`` if there is no such supplier."""
    return s.scalar(select(SupplierRow.name).where(SupplierRow.name == supplier).with_for_update()) is not None


def legacy_payouts(s: Session, account: str) -> Decimal:
    """What payouts recorded before migration 0026 (ledger entries with no payout record) paid."""
    recorded = select(SupplierPayoutRow.entry_id)
    q = (select(LedgerPostingRow.amount).join(LedgerEntryRow, LedgerEntryRow.id == LedgerPostingRow.entry_id)
         .where(LedgerEntryRow.kind == "payout", LedgerPostingRow.account == account,
                LedgerEntryRow.id.not_in(recorded)))
    return sum(s.scalars(q), Decimal(0))

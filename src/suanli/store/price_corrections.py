"""Price corrections and the credit/debit notes they issued (migration 0008); returns domain objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.prices import CorrectionNote, CorrectionRecord, PriceCorrection, PriceUnit
from suanli.errors import ConflictError
from suanli.store.money_tables import InvoiceRow, PackageDrawRow, UsageEventRow
from suanli.store.prices import ALL_SITES
from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class PriceCorrectionRow(Base):
    __tablename__ = "price_corrections"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    model: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))
    window_from: Mapped[datetime] = mapped_column(UTCDateTime)
    window_to: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    old_prices: Mapped[Any] = mapped_column(JSON)


class PriceCorrectionNoteRow(Base):
    __tablename__ = "price_correction_notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    correction_id: Mapped[str] = mapped_column(ForeignKey("price_corrections.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    tax: Mapped[Decimal] = mapped_column(DecimalText)
    total: Mapped[Decimal] = mapped_column(DecimalText)
    supplier_share: Mapped[Decimal] = mapped_column(DecimalText)
    commission: Mapped[Decimal] = mapped_column(DecimalText)
    to_wallet: Mapped[bool] = mapped_column(Boolean)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    lines: Mapped[Any] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When its debit note was paid (migration 0015); none for a credit note."""


def _correction(r: PriceCorrectionRow) -> PriceCorrection:
    return PriceCorrection(r.id, r.model, None if r.site == ALL_SITES else r.site, PriceUnit(r.unit), r.amount,
                           r.currency, r.window_from, r.window_to, r.created_at, r.reason, r.seq)


def _note(r: PriceCorrectionNoteRow) -> CorrectionNote:
    return CorrectionNote(r.id, r.correction_id, r.invoice_id, r.tenant_id, r.kind, r.amount, r.tax, r.total,
                          r.supplier_share, r.commission, r.to_wallet, tuple(r.lines), r.reason, r.at)


def next_seq(s: Session) -> int:
    """The sequence number of the next correction (the unique key refuses a concurrent duplicate)."""
    return int(s.scalar(select(func.coalesce(func.max(PriceCorrectionRow.seq), 0))) or 0) + 1


def add_correction(s: Session, c: PriceCorrection, actor_id: str, actor_name: str,
                   old_prices: list[dict[str, str | None]]) -> None:
    s.add(PriceCorrectionRow(id=c.id, seq=c.seq, model=c.model, site=c.site or ALL_SITES, unit=c.unit.value, amount=c.amount,
                             currency=c.currency, window_from=c.start, window_to=c.end, reason=c.reason,
                             actor_id=actor_id, actor_name=actor_name, created_at=c.at, old_prices=old_prices))
    try:
        s.flush()
    except IntegrityError:
        raise ConflictError("another price correction was being made at the same time; nothing was written: "
                            "send it again") from None


def add_note(s: Session, n: CorrectionNote, entry_id: int) -> None:
    s.add(PriceCorrectionNoteRow(id=n.id, correction_id=n.correction_id, invoice_id=n.invoice_id,
                                 tenant_id=n.tenant_id, kind=n.kind, amount=n.amount, tax=n.tax, total=n.total,
                                 supplier_share=n.supplier_share, commission=n.commission, to_wallet=n.to_wallet,
                                 entry_id=entry_id, lines=list(n.lines), reason=n.reason, at=n.at))
    s.flush()


def list_corrections(s: Session, model: str | None = None) -> list[PriceCorrection]:
    """Every correction (of one model), in the order they were made."""
    q = select(PriceCorrectionRow).order_by(PriceCorrectionRow.seq)
    if model is not None:
        q = q.where(PriceCorrectionRow.model == model)
    return [_correction(r) for r in s.scalars(q)]


def correction_records(s: Session, *, model: str | None = None, tenant_id: str | None = None
                       ) -> list[CorrectionRecord]:
    """Corrections with their audit trail and notes; ``tenant_id``: only the notes of that tenant."""
    q = select(PriceCorrectionRow).order_by(PriceCorrectionRow.seq)
    if model is not None:
        q = q.where(PriceCorrectionRow.model == model)
    rows = list(s.scalars(q))
    nq = select(PriceCorrectionNoteRow).where(PriceCorrectionNoteRow.correction_id.in_([r.id for r in rows])) \
        .order_by(PriceCorrectionNoteRow.at, PriceCorrectionNoteRow.id)
    if tenant_id is not None:
        nq = nq.where(PriceCorrectionNoteRow.tenant_id == tenant_id)
    notes: dict[str, list[CorrectionNote]] = {}
    for n in s.scalars(nq):
        notes.setdefault(n.correction_id, []).append(_note(n))
    return [CorrectionRecord(_correction(r), r.actor_id, r.actor_name, tuple(r.old_prices),
                             tuple(notes.get(r.id, ()))) for r in rows]


@dataclass(frozen=True)
class IssuedInvoice:
    """What a correction needs of an issued (or paid) invoice."""

    id: str
    tenant_id: str
    period: str
    status: str
    currency: str
    issued_at: datetime


def live_invoices_from(s: Session, period: str, *, model: str | None = None,
                       window: tuple[datetime, datetime] | None = None) -> list[IssuedInvoice]:
    """Issued or paid invoices of ``period`` and later months, locked (a correction's notes are
    computed against them), in (period, issue time) order. With ``model`` and ``window``: only those
    that billed device time of the model that may fall in the window (a record up to an hour before
    it: a lease-time piece never crosses an hour)."""
    q = (select(InvoiceRow).where(InvoiceRow.period >= period, InvoiceRow.status != "void")
         .order_by(InvoiceRow.period, InvoiceRow.issued_at, InvoiceRow.id).with_for_update())
    if model is not None and window is not None:
        used = (select(UsageEventRow.id).where(
            UsageEventRow.tenant_id == InvoiceRow.tenant_id, UsageEventRow.period == InvoiceRow.period,
            UsageEventRow.meter == "device_seconds", UsageEventRow.model == model,
            UsageEventRow.time >= window[0] - timedelta(hours=1), UsageEventRow.time < window[1]).exists())
        q = q.where(used)
    return [IssuedInvoice(r.id, r.tenant_id, r.period, str(r.status), r.currency, r.issued_at) for r in s.scalars(q)]


def draws_since(s: Session, package_ids: Sequence[str], issued_at: datetime) -> dict[str, Decimal]:
    """What live invoices issued at or after ``issued_at`` drew of each package (to see a package
    as it stood when an invoice was issued)."""
    out: dict[str, Decimal] = {p: Decimal(0) for p in package_ids}
    if not package_ids:
        return out
    q = (select(PackageDrawRow.package_id, PackageDrawRow.quantity)
         .join(InvoiceRow, InvoiceRow.id == PackageDrawRow.invoice_id)
         .where(PackageDrawRow.package_id.in_(list(package_ids)), InvoiceRow.status != "void",
                InvoiceRow.issued_at >= issued_at))
    for pid, qty in s.execute(q):
        out[pid] += qty
    return out


def notes_on_invoice(s: Session, invoice_id: str) -> list[str]:
    """The ids of the price-correction notes issued on an invoice."""
    return list(s.scalars(select(PriceCorrectionNoteRow.id).where(PriceCorrectionNoteRow.invoice_id == invoice_id)
                          .order_by(PriceCorrectionNoteRow.id)))


PRICE_BOOK_LOCK = 0x5355414E4C49  # an advisory-lock key of its own ("SUANLI")


def lock_price_book(s: Session, *, exclusive: bool) -> None:
    """Serialise a price correction (exclusive) with the invoices being issued (shared), so that an
    invoice is either rated with the corrected book or seen by the correction (and given its note).
    PostgreSQL: a transaction-scoped advisory lock. SQLite: every write transaction is
    ``BEGIN IMMEDIATE`` already, so writers never overlap."""
    if s.get_bind().dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    s.execute(text(f"SELECT {fn}(:key)"), {"key": PRICE_BOOK_LOCK})

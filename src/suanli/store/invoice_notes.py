"""Every note on an issued invoice, as one list of domain objects (migration 0015): manual credit
notes (``credit_notes``), a price correction's credit and debit notes (``price_correction_notes``)
and manual debit notes (``debit_notes``, defined here), and which debit notes are paid."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.invoices import InvoiceNote, NoteKind
from suanli.domain.money import minor
from suanli.store.money_tables import CreditNoteRow
from suanli.store.price_corrections import PriceCorrectionNoteRow, PriceCorrectionRow
from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class DebitNoteRow(Base):
    """A debit note the operator issued by hand: the tenant owes ``amount`` more (owed until ``paid_at``)."""

    __tablename__ = "debit_notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def add_debit_note(s: Session, note: InvoiceNote, tenant_id: str, actor_id: str, entry_id: int) -> None:
    s.add(DebitNoteRow(id=note.id, invoice_id=note.invoice_id, tenant_id=tenant_id, amount=note.amount,
                       reason=note.reason, actor_id=actor_id, actor_name=note.by, entry_id=entry_id, at=note.at))
    s.flush()


def invoice_notes(s: Session, invoice_id: str, currency: str) -> list[InvoiceNote]:
    """The invoice's credit and debit notes, manual and from price corrections, oldest first."""
    out = [InvoiceNote(n.id, n.invoice_id, NoteKind.CREDIT, minor(n.amount, currency), n.reason, n.at,
                       n.actor_name or "", None, n.to_wallet, None)
           for n in s.scalars(select(CreditNoteRow).where(CreditNoteRow.invoice_id == invoice_id))]
    q = (select(PriceCorrectionNoteRow, PriceCorrectionRow.actor_name)
         .join(PriceCorrectionRow, PriceCorrectionRow.id == PriceCorrectionNoteRow.correction_id)
         .where(PriceCorrectionNoteRow.invoice_id == invoice_id))
    out += [InvoiceNote(n.id, n.invoice_id, NoteKind(n.kind), minor(n.total, currency), n.reason, n.at, who,
                        n.correction_id, n.to_wallet, n.paid_at) for n, who in s.execute(q)]
    out += [InvoiceNote(n.id, n.invoice_id, NoteKind.DEBIT, minor(n.amount, currency), n.reason, n.at,
                        n.actor_name, None, False, n.paid_at)
            for n in s.scalars(select(DebitNoteRow).where(DebitNoteRow.invoice_id == invoice_id))]
    return sorted(out, key=lambda n: (n.at, n.id))


def debit_note_ids(s: Session, invoice_id: str) -> list[str]:
    """The manual debit notes on an invoice."""
    return list(s.scalars(select(DebitNoteRow.id).where(DebitNoteRow.invoice_id == invoice_id)
                          .order_by(DebitNoteRow.id)))


def mark_debits_paid(s: Session, invoice_id: str, at: datetime) -> None:
    """Every unpaid debit note of the invoice (manual or a correction's) is paid at ``at``."""
    s.execute(update(DebitNoteRow).where(DebitNoteRow.invoice_id == invoice_id, DebitNoteRow.paid_at.is_(None))
              .values(paid_at=at))
    s.execute(update(PriceCorrectionNoteRow)
              .where(PriceCorrectionNoteRow.invoice_id == invoice_id, PriceCorrectionNoteRow.kind == "debit",
                     PriceCorrectionNoteRow.paid_at.is_(None)).values(paid_at=at))
    s.flush()

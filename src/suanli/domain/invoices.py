"""Invoice documents as the store keeps them and every reader shows them.

An invoice (issued, then paid or void) is stored once, with its lines and credit notes; a draft
(status ``preview``) is the same document rated now and not written. Both are built from these
types, so a number prints the same way on a draft and on the issued invoice of a month:

- money amounts (line amount, supplier share, commission, totals, credit notes, voucher uses)
  are exact multiples of the currency's minor unit and carry exactly its places
  (:func:`suanli.domain.money.minor`: ``48.00``, never ``48`` or ``48.000000000000``);
- line quantities and unit prices keep :data:`STORED_PLACES` (12) decimal places, the precision
  the database stores, without trailing zeros (:func:`stored`): the draft shows what the issued
  invoice will hold, not more.

The database keeps the status as its string value (``CHECK status in ('issued','paid','void')``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from suanli.domain.money import minor


class InvoiceStatus(StrEnum):
    """Where an invoice document stands."""

    PREVIEW = "preview"
    """A draft: rated now from the month's usage (to date for the current month); nothing written."""
    ISSUED = "issued"
    """On the ledger, amount due not received yet."""
    PAID = "paid"
    """The amount due was received (or nothing was due)."""
    VOID = "void"
    """Every entry reversed; the month may be issued again."""
    PROVISIONAL = "provisional"
    """A supplier statement's part rated from drafts of invoices not issued yet (never an invoice)."""

    @property
    def live(self) -> bool:
        """Issued or paid: the month's invoice, which packages, vouchers and statements count."""
        return self in (InvoiceStatus.ISSUED, InvoiceStatus.PAID)


STORED_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PAID, InvoiceStatus.VOID)
"""The statuses an invoice row may have (the database's CHECK constraint)."""

STORED_PLACES = Decimal("1e-12")
"""Stored line quantities and unit prices keep 12 decimal places (PostgreSQL NUMERIC(38, 12))."""


def stored(d: Decimal) -> Decimal:
    """A quantity or unit price at the stored precision (12 places, half up), without trailing
    zeros or an exponent: ``184``, ``0.5``, ``10.165068493151``."""
    q = d.quantize(STORED_PLACES, ROUND_HALF_UP)
    return q.quantize(Decimal(1)) if q == q.to_integral_value() else q.normalize()


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One charge line of an invoice or draft (amounts already rounded once, to the minor unit)."""

    line_no: int
    kind: str
    meter: str
    model: str
    site: str
    supplier: str
    node: str
    lease: str
    plan: str
    package: str
    start: datetime
    end: datetime
    quantity: Decimal
    price_unit: str
    unit_price: Decimal
    amount: Decimal
    supplier_share: Decimal
    commission: Decimal
    records: int
    usage_period: str
    description: str

    def canonical(self, currency: str) -> InvoiceLine:
        """The line with amounts in the currency's minor unit and quantities at stored precision."""
        return _replace_line(self, currency)


def _replace_line(x: InvoiceLine, currency: str) -> InvoiceLine:
    return InvoiceLine(x.line_no, x.kind, x.meter, x.model, x.site, x.supplier, x.node, x.lease, x.plan, x.package,
                       x.start, x.end, stored(x.quantity), x.price_unit, stored(x.unit_price),
                       minor(x.amount, currency), minor(x.supplier_share, currency), minor(x.commission, currency),
                       x.records, x.usage_period, x.description)


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice as issued (amounts in the currency's minor unit)."""

    id: str
    tenant_id: str
    period: str
    status: InvoiceStatus
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    vouchers: Decimal
    credits: Decimal
    wallet: Decimal
    amount_due: Decimal
    issued_at: datetime
    paid_at: datetime | None = None
    voided_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.status.live


@dataclass(frozen=True, slots=True)
class CreditNote:
    """Part of an invoice given back (to the wallet when the invoice was paid)."""

    id: str
    invoice_id: str
    amount: Decimal
    reason: str
    to_wallet: bool
    at: datetime
    by: str = ""
    """The operator who gave it ("" for notes given before migration 0015 recorded it)."""
    ref: str = ""
    """What the platform wrote it for (a term fee line: :func:`suanli.ledger.terms.fee_ref`); "" for a
    note an operator gave."""


class NoteKind(StrEnum):
    """A note after an invoice was issued: money given back (credit) or owed more (debit)."""

    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True, slots=True)
class InvoiceNote:
    """A credit or debit note on an issued invoice, whatever issued it: a price correction
    (``correction`` names it) or the operator by hand. ``amount`` is what the tenant is credited or
    owes (tax included), in the currency's minor unit. A debit note is owed (receivable) until
    ``paid_at``; a credit note goes to the wallet (``to_wallet``) or lowers the amount due."""

    id: str
    invoice_id: str
    kind: NoteKind
    amount: Decimal
    reason: str
    at: datetime
    by: str
    correction: str | None
    to_wallet: bool
    paid_at: datetime | None


def balance_after_notes(total: Decimal, notes: Sequence[InvoiceNote], currency: str) -> Decimal:
    """The invoice's total after its notes: total - credit notes + debit notes (the issued total is
    never changed; this is shown next to it)."""
    out = total
    for n in notes:
        out += n.amount if n.kind is NoteKind.DEBIT else -n.amount
    return minor(out, currency)


def outstanding(invoice: Invoice, notes: Sequence[InvoiceNote]) -> Decimal:
    """What ``pay`` collects now: the amount due while the invoice is issued, plus every debit note
    not paid yet (nothing on a void invoice)."""
    if invoice.status is InvoiceStatus.VOID:
        return minor(Decimal(0), invoice.currency)
    due = invoice.amount_due if invoice.status is InvoiceStatus.ISSUED else Decimal(0)
    due += sum((n.amount for n in notes if n.kind is NoteKind.DEBIT and n.paid_at is None), Decimal(0))
    return minor(due, invoice.currency)


@dataclass(frozen=True, slots=True)
class VoucherOutcome:
    """What a voucher did on one line of an invoice: paid ``amount`` (used) or refused by ``rule``."""

    voucher: str
    line_no: int
    outcome: str
    rule: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SlaCredit:
    """A closed SLA credit: time a tenant lost to a node failure on a lease, and what it is worth
    (in the currency's minor unit); it is posted once, by the tenant's next invoice."""

    id: int
    lease_id: str
    tenant_id: str
    start: datetime
    end: datetime | None
    seconds: int
    amount: Decimal
    currency: str
    reason: str


@dataclass(frozen=True, slots=True)
class SlaPosting:
    """An SLA credit on the ledger: the invoice that posted it (and its month), and who bore it
    (``parts``: supplier, node, amount, supplier share, as decimal strings)."""

    credit: SlaCredit
    invoice_id: str
    period: str
    entry_id: int
    amount: Decimal
    supplier_share: Decimal
    parts: tuple[dict[str, str], ...]
    at: datetime

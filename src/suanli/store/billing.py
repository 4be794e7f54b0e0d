"""Price plans, packages, vouchers, related parties, invoices and wallet policies (rows in, rows out).

The store may not import the pure ledger, so these functions take and return ``*Row`` objects
and plain values; :mod:`suanli.service.billing` converts them. Invoices, their lines, credit notes
and voucher outcomes go in and come out as :mod:`suanli.domain.invoices` objects, never rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.invoices import (
    STORED_STATUSES,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    SlaCredit,
    SlaPosting,
    VoucherOutcome,
)
from suanli.domain.money import minor
from suanli.errors import ConflictError, NotFoundError
from suanli.store.engine_tables import SlaCreditRow
from suanli.store.money_tables import (
    CreditNoteRow,
    InvoiceLineRow,
    InvoiceRow,
    PackageDrawRow,
    PricePlanRow,
    RelatedPartyRow,
    SlaCreditPostingRow,
    VoucherRefusalRow,
    VoucherRow,
    VoucherUseRow,
    WalletPolicyRow,
)

# -- plans ----------------------------------------------------------------------------------------


def plans_for(s: Session, tenants: Iterable[str]) -> list[PricePlanRow]:
    q = select(PricePlanRow).where(PricePlanRow.tenant.in_(list(tenants))).order_by(PricePlanRow.effective_from,
                                                                                     PricePlanRow.id)
    return list(s.scalars(q))


def add_plan(s: Session, row: PricePlanRow) -> None:
    s.add(row)
    s.flush()


# -- vouchers and related parties -----------------------------------------------------------------


def add_voucher(s: Session, row: VoucherRow) -> None:
    s.add(row)
    s.flush()


def vouchers_for(s: Session, tenant_id: str | None, *, issuer: str | None = None) -> list[VoucherRow]:
    q = select(VoucherRow).order_by(VoucherRow.valid_to, VoucherRow.id)
    if tenant_id is not None:
        q = q.where(VoucherRow.tenant_id == tenant_id)
    if issuer is not None:
        q = q.where(VoucherRow.issuer == issuer)
    return list(s.scalars(q))


def voucher_used(s: Session, voucher_ids: Sequence[str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {v: Decimal(0) for v in voucher_ids}
    q = (select(VoucherUseRow.voucher_id, VoucherUseRow.amount)
         .join(InvoiceRow, InvoiceRow.id == VoucherUseRow.invoice_id)
         .where(VoucherUseRow.voucher_id.in_(list(voucher_ids)), InvoiceRow.status != InvoiceStatus.VOID.value))
    for vid, amount in s.execute(q):
        out[vid] += amount
    return out


def add_related(s: Session, tenant_id: str, supplier: str, note: str) -> None:
    if s.get(RelatedPartyRow, (tenant_id, supplier)) is None:
        s.add(RelatedPartyRow(tenant_id=tenant_id, supplier=supplier, note=note))
        s.flush()


def related_suppliers(s: Session, tenant_id: str) -> set[str]:
    return set(s.scalars(select(RelatedPartyRow.supplier).where(RelatedPartyRow.tenant_id == tenant_id)))


# -- invoices -------------------------------------------------------------------------------------
# Rows never leave this section: readers get :mod:`suanli.domain.invoices` objects, amounts in the
# currency's minor unit and quantities at stored precision (PostgreSQL's NUMERIC(38, 12) reads back
# ``48.000000000000``, SQLite's text ``48.00``: both become ``48.00``).


def _invoice(r: InvoiceRow) -> Invoice:
    c = r.currency
    return Invoice(r.id, r.tenant_id, r.period, InvoiceStatus(r.status), c, minor(r.subtotal, c), minor(r.tax, c),
                   minor(r.total, c), minor(r.vouchers, c), minor(r.credits, c), minor(r.wallet, c),
                   minor(r.amount_due, c), r.issued_at, r.paid_at, r.voided_at)


def _line(x: InvoiceLineRow, currency: str) -> InvoiceLine:
    return InvoiceLine(x.line_no, x.kind, x.meter, x.model, x.site, x.supplier, x.node, x.lease, x.plan, x.package,
                       x.start_at, x.end_at, x.quantity, x.price_unit, x.unit_price, x.amount, x.supplier_share,
                       x.commission, x.records, x.usage_period, x.description).canonical(currency)


def add_invoice(s: Session, invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[int]:
    """Insert the invoice and its lines; returns the line ids in line order. One live invoice per
    tenant and month: a second is a ConflictError (the database's partial unique index decides)."""
    if invoice.status not in STORED_STATUSES:
        raise ValueError(f"an invoice is stored issued, paid or void, not {invoice.status}")
    s.add(InvoiceRow(id=invoice.id, tenant_id=invoice.tenant_id, period=invoice.period,
                     status=invoice.status.value, currency=invoice.currency, subtotal=invoice.subtotal,
                     tax=invoice.tax, total=invoice.total, vouchers=invoice.vouchers, credits=invoice.credits,
                     wallet=invoice.wallet, amount_due=invoice.amount_due, issued_at=invoice.issued_at,
                     paid_at=invoice.paid_at, voided_at=invoice.voided_at))
    try:
        s.flush()
    except IntegrityError:
        raise ConflictError(f"tenant already has a live invoice for {invoice.period}; void it first to re-issue",
                            period=invoice.period) from None
    if not lines:
        return []
    s.execute(insert(InvoiceLineRow), [
        {"invoice_id": invoice.id, "line_no": x.line_no, "kind": x.kind, "meter": x.meter, "model": x.model,
         "site": x.site, "supplier": x.supplier, "node": x.node, "lease": x.lease, "plan": x.plan,
         "package": x.package, "start_at": x.start, "end_at": x.end, "quantity": x.quantity,
         "price_unit": x.price_unit, "unit_price": x.unit_price, "amount": x.amount,
         "supplier_share": x.supplier_share, "commission": x.commission, "records": x.records,
         "usage_period": x.usage_period, "description": x.description} for x in lines])
    q = select(InvoiceLineRow.id).where(InvoiceLineRow.invoice_id == invoice.id).order_by(InvoiceLineRow.line_no)
    return list(s.scalars(q))


def add_voucher_outcomes(s: Session, uses: Sequence[dict[str, Any]], refusals: Sequence[dict[str, Any]]) -> None:
    if uses:
        try:
            s.execute(insert(VoucherUseRow), list(uses))
        except IntegrityError:
            raise ConflictError("a charge line already has a voucher; no double subsidy") from None
    if refusals:
        s.execute(insert(VoucherRefusalRow), list(refusals))


def add_package_draws(s: Session, invoice_id: str, draws: dict[str, Decimal]) -> None:
    if draws:
        s.execute(insert(PackageDrawRow), [{"package_id": k, "invoice_id": invoice_id, "quantity": v}
                                           for k, v in sorted(draws.items())])


def _invoice_row(s: Session, invoice_id: str, *, tenant_id: str | None = None, for_update: bool = False
                 ) -> InvoiceRow:
    q = select(InvoiceRow).where(InvoiceRow.id == invoice_id)
    if tenant_id is not None:
        q = q.where(InvoiceRow.tenant_id == tenant_id)
    if for_update:
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(f"no invoice {invoice_id!r}", invoice=invoice_id)
    return row


def get_invoice(s: Session, invoice_id: str, *, tenant_id: str | None = None, for_update: bool = False) -> Invoice:
    """One invoice (of ``tenant_id`` when given, else a NotFoundError); ``for_update`` locks its row
    until the transaction ends, so that a status change decided on it is not raced."""
    return _invoice(_invoice_row(s, invoice_id, tenant_id=tenant_id, for_update=for_update))


def set_invoice_status(s: Session, invoice_id: str, status: InvoiceStatus, at: datetime) -> Invoice:
    """Move an invoice to ``paid`` (``paid_at``) or ``void`` (``voided_at``)."""
    row = _invoice_row(s, invoice_id)
    if status is InvoiceStatus.PAID:
        row.paid_at = at
    elif status is InvoiceStatus.VOID:
        row.voided_at = at
    else:
        raise ValueError(f"an invoice moves to paid or void, not {status}")
    row.status = status.value
    s.flush()
    return _invoice(row)


def reduce_amount_due(s: Session, invoice_id: str, amount: Decimal) -> Invoice:
    """Lower what is due on an invoice (a credit note given against the receivable)."""
    row = _invoice_row(s, invoice_id)
    row.amount_due = row.amount_due - amount
    s.flush()
    return _invoice(row)


def invoice_lines(s: Session, invoice_ids: Sequence[str]) -> list[InvoiceLine]:
    """The lines of the invoices, by invoice id then line number."""
    q = (select(InvoiceLineRow, InvoiceRow.currency).join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
         .where(InvoiceLineRow.invoice_id.in_(list(invoice_ids)))
         .order_by(InvoiceLineRow.invoice_id, InvoiceLineRow.line_no))
    return [_line(x, c) for x, c in s.execute(q)]


def list_invoices(s: Session, *, tenant_id: str | None, period: str | None = None,
                  status: InvoiceStatus | None = None, live: bool = False) -> list[Invoice]:
    """Invoices by period and issue time; of one tenant, period or status when given; ``live``:
    only issued or paid ones."""
    q = select(InvoiceRow).order_by(InvoiceRow.period, InvoiceRow.issued_at, InvoiceRow.id)
    if tenant_id is not None:
        q = q.where(InvoiceRow.tenant_id == tenant_id)
    if period is not None:
        q = q.where(InvoiceRow.period == period)
    if status is not None:
        q = q.where(InvoiceRow.status == status.value)
    if live:
        q = q.where(InvoiceRow.status != InvoiceStatus.VOID.value)
    return [_invoice(r) for r in s.scalars(q)]


def supplier_lines(s: Session, supplier: str, period: str | None) -> list[tuple[InvoiceLine, Invoice]]:
    """The supplier's lines on live invoices (of ``period`` when given), each with its invoice."""
    q = (select(InvoiceLineRow, InvoiceRow).join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
         .where(InvoiceLineRow.supplier == supplier, InvoiceRow.status != InvoiceStatus.VOID.value)
         .order_by(InvoiceRow.period, InvoiceLineRow.invoice_id, InvoiceLineRow.line_no))
    if period is not None:
        q = q.where(InvoiceRow.period == period)
    return [(_line(a, b.currency), _invoice(b)) for a, b in s.execute(q)]


def invoice_voucher_outcomes(s: Session, invoice_id: str) -> list[VoucherOutcome]:
    """What each voucher did on each line of the invoice (uses, then refusals; by line and voucher)."""
    uses = (select(VoucherUseRow.voucher_id, InvoiceLineRow.line_no, VoucherUseRow.rule, VoucherUseRow.amount,
                   InvoiceRow.currency)
            .join(InvoiceLineRow, InvoiceLineRow.id == VoucherUseRow.line_id)
            .join(InvoiceRow, InvoiceRow.id == VoucherUseRow.invoice_id)
            .where(VoucherUseRow.invoice_id == invoice_id))
    refused = (select(VoucherRefusalRow.voucher_id, InvoiceLineRow.line_no, VoucherRefusalRow.rule,
                      InvoiceRow.currency)
               .join(InvoiceLineRow, InvoiceLineRow.id == VoucherRefusalRow.line_id)
               .join(InvoiceRow, InvoiceRow.id == VoucherRefusalRow.invoice_id)
               .where(VoucherRefusalRow.invoice_id == invoice_id))
    out = [VoucherOutcome(v, n, "used", rule, minor(a, c)) for v, n, rule, a, c in s.execute(uses)]
    out += [VoucherOutcome(v, n, "refused", rule, minor(Decimal(0), c)) for v, n, rule, c in s.execute(refused)]
    return sorted(out, key=lambda x: (x.line_no, x.voucher, x.outcome != "used", x.rule))


def add_credit_note(s: Session, note: CreditNote) -> None:
    s.add(CreditNoteRow(id=note.id, invoice_id=note.invoice_id, amount=note.amount, reason=note.reason,
                        to_wallet=note.to_wallet, at=note.at, actor_name=note.by, ref=note.ref))
    s.flush()


def credit_notes(s: Session, invoice_id: str) -> list[CreditNote]:
    q = (select(CreditNoteRow, InvoiceRow.currency).join(InvoiceRow, InvoiceRow.id == CreditNoteRow.invoice_id)
         .where(CreditNoteRow.invoice_id == invoice_id).order_by(CreditNoteRow.at, CreditNoteRow.id))
    return [CreditNote(n.id, n.invoice_id, minor(n.amount, c), n.reason, n.to_wallet, n.at, n.actor_name or "",
                       n.ref) for n, c in s.execute(q)]


# -- wallet policies ------------------------------------------------------------------------------


def wallet_policy(s: Session, tenant_id: str, *, for_update: bool = False) -> WalletPolicyRow | None:
    q = select(WalletPolicyRow).where(WalletPolicyRow.tenant_id == tenant_id)
    if for_update:
        q = q.with_for_update()
    return s.scalar(q)


def wallet_policies(s: Session) -> list[WalletPolicyRow]:
    return list(s.scalars(select(WalletPolicyRow).order_by(WalletPolicyRow.tenant_id)))


def save_wallet_policy(s: Session, row: WalletPolicyRow) -> None:
    s.add(row)
    s.flush()


# -- SLA credits on the ledger ----------------------------------------------------------------------


def _sla_credit(r: SlaCreditRow) -> SlaCredit:
    return SlaCredit(r.id, r.lease_id, r.tenant_id, r.start, r.end, r.seconds, minor(r.amount, r.currency),
                     r.currency, r.reason)


def unposted_sla_credits(s: Session, tenant_id: str, started_before: datetime) -> list[SlaCredit]:
    """Closed SLA credits of the tenant with an amount, interrupted before ``started_before``, that
    are not on the ledger yet (oldest first)."""
    posted = select(SlaCreditPostingRow.sla_credit_id)
    q = (select(SlaCreditRow).where(SlaCreditRow.tenant_id == tenant_id, SlaCreditRow.end.is_not(None),
                                    SlaCreditRow.start < started_before, SlaCreditRow.id.not_in(posted))
         .order_by(SlaCreditRow.start, SlaCreditRow.id))
    return [_sla_credit(r) for r in s.scalars(q) if r.amount > 0]


def add_sla_posting(s: Session, credit: SlaCredit, *, entry_id: int, invoice_id: str, supplier_share: Decimal,
                    parts: Sequence[dict[str, str]], at: datetime) -> None:
    """Record that an SLA credit is on the ledger; a second posting of it is refused by the key."""
    try:
        with s.begin_nested():
            s.add(SlaCreditPostingRow(sla_credit_id=credit.id, entry_id=entry_id, tenant_id=credit.tenant_id,
                                      lease_id=credit.lease_id, invoice_id=invoice_id, amount=credit.amount,
                                      supplier_share=supplier_share, parts=list(parts), at=at))
    except IntegrityError:
        raise ConflictError(f"SLA credit {credit.id} is already on the ledger", sla_credit=credit.id) from None


def sla_postings(s: Session, *, invoice_ids: Sequence[str] | None = None, tenant_id: str | None = None,
                 period: str | None = None) -> list[SlaPosting]:
    """Posted SLA credits, each with its credit and the period of the invoice that posted it."""
    q = (select(SlaCreditPostingRow, SlaCreditRow, InvoiceRow.period)
         .join(SlaCreditRow, SlaCreditRow.id == SlaCreditPostingRow.sla_credit_id)
         .join(InvoiceRow, InvoiceRow.id == SlaCreditPostingRow.invoice_id)
         .order_by(SlaCreditPostingRow.at, SlaCreditPostingRow.sla_credit_id))
    if invoice_ids is not None:
        q = q.where(SlaCreditPostingRow.invoice_id.in_(list(invoice_ids)))
    if tenant_id is not None:
        q = q.where(SlaCreditPostingRow.tenant_id == tenant_id)
    if period is not None:
        q = q.where(InvoiceRow.period == period)
    return [SlaPosting(_sla_credit(c), x.invoice_id, per, x.entry_id, minor(x.amount, c.currency),
                       minor(x.supplier_share, c.currency), tuple(x.parts), x.at) for x, c, per in s.execute(q)]

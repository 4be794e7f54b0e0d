"""Price plans, packages, vouchers, related parties, invoices and wallet policies (rows in, rows out).

The store may not import the pure ledger, so these functions take and return ``*Row`` objects
and plain values; :mod:`suanli.service.billing` converts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
         .where(VoucherUseRow.voucher_id.in_(list(voucher_ids)), InvoiceRow.status != "void"))
    for vid, amount in s.execute(q):
        out[vid] += amount
    return out


def voucher_audit(s: Session, voucher_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every use and refusal of the vouchers, with the invoice line it concerned."""
    out: list[dict[str, Any]] = []
    ids = list(voucher_ids)
    uses = (select(VoucherUseRow, InvoiceLineRow, InvoiceRow)
            .join(InvoiceLineRow, InvoiceLineRow.id == VoucherUseRow.line_id)
            .join(InvoiceRow, InvoiceRow.id == VoucherUseRow.invoice_id).where(VoucherUseRow.voucher_id.in_(ids)))
    for u, line, inv in s.execute(uses):
        out.append({"voucher": u.voucher_id, "outcome": "used", "rule": "", "amount": u.amount, "at": u.at,
                    "invoice": inv.id, "invoice_status": inv.status, "period": inv.period, "line_no": line.line_no,
                    "line_amount": line.amount, "supplier": line.supplier, "model": line.model, "lease": line.lease})
    refused = (select(VoucherRefusalRow, InvoiceLineRow, InvoiceRow)
               .join(InvoiceLineRow, InvoiceLineRow.id == VoucherRefusalRow.line_id)
               .join(InvoiceRow, InvoiceRow.id == VoucherRefusalRow.invoice_id)
               .where(VoucherRefusalRow.voucher_id.in_(ids)))
    for r, line, inv in s.execute(refused):
        out.append({"voucher": r.voucher_id, "outcome": "refused", "rule": r.rule, "amount": Decimal("0.00"),
                    "at": r.at, "invoice": inv.id, "invoice_status": inv.status, "period": inv.period,
                    "line_no": line.line_no, "line_amount": line.amount, "supplier": line.supplier,
                    "model": line.model, "lease": line.lease})
    out.sort(key=lambda x: (x["at"], x["invoice"], x["line_no"], x["voucher"]))
    return out


def add_related(s: Session, tenant_id: str, supplier: str, note: str) -> None:
    if s.get(RelatedPartyRow, (tenant_id, supplier)) is None:
        s.add(RelatedPartyRow(tenant_id=tenant_id, supplier=supplier, note=note))
        s.flush()


def related_suppliers(s: Session, tenant_id: str) -> set[str]:
    return set(s.scalars(select(RelatedPartyRow.supplier).where(RelatedPartyRow.tenant_id == tenant_id)))


# -- invoices -------------------------------------------------------------------------------------


def add_invoice(s: Session, row: InvoiceRow, lines: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the invoice and its lines; returns the line ids in line order. One live invoice per
    tenant and month: a second is a ConflictError (the database's partial unique index decides)."""
    s.add(row)
    try:
        s.flush()
    except IntegrityError:
        raise ConflictError(f"tenant already has a live invoice for {row.period}; void it first to re-issue",
                            period=row.period) from None
    if not lines:
        return []
    s.execute(insert(InvoiceLineRow), [{"invoice_id": row.id, **x} for x in lines])
    q = select(InvoiceLineRow.id).where(InvoiceLineRow.invoice_id == row.id).order_by(InvoiceLineRow.line_no)
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


def get_invoice(s: Session, invoice_id: str, *, tenant_id: str | None = None, for_update: bool = False
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


def invoice_lines(s: Session, invoice_ids: Sequence[str]) -> list[InvoiceLineRow]:
    q = (select(InvoiceLineRow).where(InvoiceLineRow.invoice_id.in_(list(invoice_ids)))
         .order_by(InvoiceLineRow.invoice_id, InvoiceLineRow.line_no))
    return list(s.scalars(q))


def list_invoices(s: Session, *, tenant_id: str | None, period: str | None = None,
                  status: str | None = None) -> list[InvoiceRow]:
    q = select(InvoiceRow).order_by(InvoiceRow.period, InvoiceRow.issued_at, InvoiceRow.id)
    if tenant_id is not None:
        q = q.where(InvoiceRow.tenant_id == tenant_id)
    if period is not None:
        q = q.where(InvoiceRow.period == period)
    if status is not None:
        q = q.where(InvoiceRow.status == status)
    return list(s.scalars(q))


def supplier_lines(s: Session, supplier: str, period: str | None) -> list[tuple[InvoiceLineRow, InvoiceRow]]:
    q = (select(InvoiceLineRow, InvoiceRow).join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
         .where(InvoiceLineRow.supplier == supplier, InvoiceRow.status != "void")
         .order_by(InvoiceRow.period, InvoiceLineRow.invoice_id, InvoiceLineRow.line_no))
    if period is not None:
        q = q.where(InvoiceRow.period == period)
    return [(a, b) for a, b in s.execute(q)]


def add_credit_note(s: Session, row: CreditNoteRow) -> None:
    s.add(row)
    s.flush()


def credit_notes(s: Session, invoice_id: str) -> list[CreditNoteRow]:
    return list(s.scalars(select(CreditNoteRow).where(CreditNoteRow.invoice_id == invoice_id)
                          .order_by(CreditNoteRow.at, CreditNoteRow.id)))


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


def unposted_sla_credits(s: Session, tenant_id: str, started_before: Any) -> list[SlaCreditRow]:
    """Closed SLA credits of the tenant with an amount, interrupted before ``started_before``, that
    are not on the ledger yet (oldest first)."""
    posted = select(SlaCreditPostingRow.sla_credit_id)
    q = (select(SlaCreditRow).where(SlaCreditRow.tenant_id == tenant_id, SlaCreditRow.end.is_not(None),
                                    SlaCreditRow.start < started_before, SlaCreditRow.id.not_in(posted))
         .order_by(SlaCreditRow.start, SlaCreditRow.id))
    return [r for r in s.scalars(q) if r.amount > 0]


def add_sla_posting(s: Session, row: SlaCreditPostingRow) -> None:
    """Record that an SLA credit is on the ledger; a second posting of it is refused by the key."""
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise ConflictError(f"SLA credit {row.sla_credit_id} is already on the ledger", sla_credit=row.sla_credit_id
                            ) from None


def sla_postings(s: Session, *, invoice_ids: Sequence[str] | None = None, tenant_id: str | None = None,
                 period: str | None = None) -> list[tuple[SlaCreditPostingRow, SlaCreditRow, str]]:
    """Posted SLA credits with their engine row and the period of the invoice that posted them."""
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
    return [(a, b, c) for a, b, c in s.execute(q)]

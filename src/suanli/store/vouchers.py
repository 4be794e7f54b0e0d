"""Voucher rules in the database: schemes, contract facts, claims, redemptions, approved suppliers,
start-up firms, and what the caps have used (rows in, rows and plain values out).

Invariants kept by the database: ``voucher_claims.contract`` is UNIQUE (one claim per contract,
ever); ``voucher_redemptions (voucher_id, invoice_id)`` is UNIQUE; ``voucher_uses.line_id`` is
UNIQUE (a line takes at most one voucher).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.invoices import InvoiceStatus
from suanli.domain.money import minor
from suanli.errors import ConflictError, NotFoundError
from suanli.store.money_tables import (
    InvoiceLineRow,
    InvoiceRow,
    PricePlanRow,
    VoucherClaimRow,
    VoucherContractRow,
    VoucherFirmRow,
    VoucherRedemptionRow,
    VoucherRefusalRow,
    VoucherRow,
    VoucherSupplierRow,
    VoucherUseRow,
)

ZERO = Decimal("0.00")


class LineFacts(NamedTuple):
    """What the voucher rules read of a stored invoice line."""

    line_no: int
    kind: str
    meter: str
    model: str
    supplier: str
    plan: str
    start: datetime
    amount: Decimal


class InvoiceFacts(NamedTuple):
    id: str
    tenant_id: str
    status: str
    currency: str


def get_voucher(s: Session, voucher_id: str, *, tenant_id: str | None = None, for_update: bool = False
                ) -> VoucherRow:
    q = select(VoucherRow).where(VoucherRow.id == voucher_id)
    if tenant_id is not None:
        q = q.where(VoucherRow.tenant_id == tenant_id)
    if for_update:
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(f"no voucher {voucher_id!r}", voucher=voucher_id)
    return row


def lock_vouchers(s: Session, tenant_id: str) -> list[VoucherRow]:
    """The tenant's vouchers, locked (PostgreSQL) so that two invoices cannot both spend one cap."""
    q = (select(VoucherRow).where(VoucherRow.tenant_id == tenant_id).order_by(VoucherRow.valid_to, VoucherRow.id)
         .with_for_update())
    return list(s.scalars(q))


def _live(q: Any) -> Any:
    return q.join(InvoiceRow, InvoiceRow.id == VoucherUseRow.invoice_id).where(InvoiceRow.status != InvoiceStatus.VOID.value)


def used_by_contract(s: Session, tenant_id: str) -> dict[tuple[str, str], Decimal]:
    """(scheme, contract plan id) -> paid by the tenant's vouchers of the scheme on live invoices."""
    q = _live(select(VoucherRow.scheme, InvoiceLineRow.plan, VoucherUseRow.amount)
              .join(InvoiceLineRow, InvoiceLineRow.id == VoucherUseRow.line_id)
              .join(VoucherRow, VoucherRow.id == VoucherUseRow.voucher_id)
              .where(VoucherRow.tenant_id == tenant_id))
    out: dict[tuple[str, str], Decimal] = {}
    for scheme, plan, amount in s.execute(q):
        out[(scheme, plan)] = out.get((scheme, plan), ZERO) + amount
    return out


def firm_used(s: Session, tenant_id: str, scheme: str, start: datetime, end: datetime) -> Decimal:
    """Paid to the tenant by its vouchers of ``scheme`` on live invoices, uses recorded in [start, end)."""
    q = _live(select(VoucherUseRow.amount).join(VoucherRow, VoucherRow.id == VoucherUseRow.voucher_id)
              .where(VoucherRow.tenant_id == tenant_id, VoucherRow.scheme == scheme, VoucherUseRow.at >= start,
                     VoucherUseRow.at < end))
    return sum((a for (a,) in s.execute(q)), ZERO)


def subsidised_lines(s: Session, invoice_id: str) -> set[int]:
    """Line numbers of the invoice that already have a voucher."""
    q = (select(InvoiceLineRow.line_no).join(VoucherUseRow, VoucherUseRow.line_id == InvoiceLineRow.id)
         .where(InvoiceLineRow.invoice_id == invoice_id))
    return set(s.scalars(q))


def invoice_facts(s: Session, invoice_id: str, tenant_id: str) -> InvoiceFacts:
    """The tenant's invoice, locked (a redemption and a void or payment of it do not interleave)."""
    q = select(InvoiceRow).where(InvoiceRow.id == invoice_id, InvoiceRow.tenant_id == tenant_id).with_for_update()
    r = s.scalar(q)
    if r is None:
        raise NotFoundError(f"no invoice {invoice_id!r} of the voucher's tenant", invoice=invoice_id)
    return InvoiceFacts(r.id, r.tenant_id, str(r.status), r.currency)


def line_facts(s: Session, invoice_id: str) -> list[LineFacts]:
    q = (select(InvoiceLineRow).where(InvoiceLineRow.invoice_id == invoice_id).order_by(InvoiceLineRow.line_no))
    return [LineFacts(x.line_no, x.kind, x.meter, x.model, x.supplier, x.plan, x.start_at, x.amount)
            for x in s.scalars(q)]


def line_ids(s: Session, invoice_id: str) -> dict[int, int]:
    q = select(InvoiceLineRow.line_no, InvoiceLineRow.id).where(InvoiceLineRow.invoice_id == invoice_id)
    return {n: i for n, i in s.execute(q)}


def vouchers_on_contract(s: Session, contract: str) -> set[str]:
    """Vouchers that paid any live line of the contract."""
    q = _live(select(VoucherUseRow.voucher_id).join(InvoiceLineRow, InvoiceLineRow.id == VoucherUseRow.line_id)
              .where(InvoiceLineRow.plan == contract))
    return set(s.scalars(q))


# -- contracts ------------------------------------------------------------------------------------


def get_plan(s: Session, plan_id: str) -> PricePlanRow | None:
    return s.get(PricePlanRow, plan_id)


def save_contract(s: Session, row: VoucherContractRow) -> None:
    """Record (or correct) a contract's facts."""
    s.merge(row)
    s.flush()


def contracts_for(s: Session, tenant_id: str | None) -> list[tuple[VoucherContractRow, PricePlanRow]]:
    q = (select(VoucherContractRow, PricePlanRow).join(PricePlanRow, PricePlanRow.id == VoucherContractRow.plan_id)
         .order_by(VoucherContractRow.plan_id))
    if tenant_id is not None:
        q = q.where(VoucherContractRow.tenant_id == tenant_id)
    return [(a, b) for a, b in s.execute(q)]


# -- claims and redemptions -----------------------------------------------------------------------


def add_claim(s: Session, row: VoucherClaimRow) -> None:
    """One claim per contract: the UNIQUE key decides (a second claim is a ConflictError, 409)."""
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        first = s.scalar(select(VoucherClaimRow).where(VoucherClaimRow.contract == row.contract))
        by = f" by voucher {first.voucher_id} ({first.id})" if first is not None else ""
        raise ConflictError(f"rule one_claim_per_contract: contract {row.contract} is already claimed{by}; a "
                            "contract takes one voucher claim", contract=row.contract,
                            rule="one_claim_per_contract") from None


def claims_for(s: Session, voucher_ids: Sequence[str]) -> list[VoucherClaimRow]:
    q = select(VoucherClaimRow).where(VoucherClaimRow.voucher_id.in_(list(voucher_ids))).order_by(VoucherClaimRow.at)
    return list(s.scalars(q))


def claimed_contracts(s: Session, tenant_id: str) -> dict[str, str]:
    """Contract -> the scheme of the voucher claimed against it, for the tenant's contracts."""
    q = (select(VoucherClaimRow.contract, VoucherRow.scheme).join(VoucherRow, VoucherRow.id == VoucherClaimRow.voucher_id)
         .where(VoucherClaimRow.tenant_id == tenant_id))
    return {c: sc for c, sc in s.execute(q)}


def add_redemption(s: Session, row: VoucherRedemptionRow) -> None:
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise ConflictError(f"voucher {row.voucher_id} is already redeemed against invoice {row.invoice_id}",
                            voucher=row.voucher_id, invoice=row.invoice_id) from None


def redemptions_for(s: Session, voucher_ids: Sequence[str]) -> list[VoucherRedemptionRow]:
    q = (select(VoucherRedemptionRow).where(VoucherRedemptionRow.voucher_id.in_(list(voucher_ids)))
         .order_by(VoucherRedemptionRow.at))
    return list(s.scalars(q))


# -- approved suppliers and firms -----------------------------------------------------------------


def add_approved(s: Session, scheme: str, supplier: str, at: datetime) -> None:
    if s.get(VoucherSupplierRow, (scheme, supplier)) is None:
        s.add(VoucherSupplierRow(scheme=scheme, supplier=supplier, at=at))
        s.flush()


def approved_suppliers(s: Session) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for scheme, supplier in s.execute(select(VoucherSupplierRow.scheme, VoucherSupplierRow.supplier)):
        out.setdefault(scheme, set()).add(supplier)
    return out


def firm(s: Session, tenant_id: str) -> VoucherFirmRow | None:
    return s.get(VoucherFirmRow, tenant_id)


def save_firm(s: Session, row: VoucherFirmRow) -> None:
    s.merge(row)
    s.flush()


# -- audit ----------------------------------------------------------------------------------------


def audit_rows(s: Session, voucher_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every use and refusal of the vouchers, with the invoice line and the rule id that decided it."""
    out: list[dict[str, Any]] = []
    ids = list(voucher_ids)
    uses = (select(VoucherUseRow, InvoiceLineRow, InvoiceRow)
            .join(InvoiceLineRow, InvoiceLineRow.id == VoucherUseRow.line_id)
            .join(InvoiceRow, InvoiceRow.id == VoucherUseRow.invoice_id).where(VoucherUseRow.voucher_id.in_(ids)))
    for u, line, inv in s.execute(uses):
        out.append({"voucher": u.voucher_id, "outcome": "used", "rule": u.rule, "amount": minor(u.amount, inv.currency), "at": u.at,
                    "invoice": inv.id, "invoice_status": inv.status, "period": inv.period, "line_no": line.line_no,
                    "line_kind": line.kind, "line_amount": minor(line.amount, inv.currency), "contract": line.plan,
                    "supplier": line.supplier, "model": line.model, "lease": line.lease})
    refused = (select(VoucherRefusalRow, InvoiceLineRow, InvoiceRow)
               .join(InvoiceLineRow, InvoiceLineRow.id == VoucherRefusalRow.line_id)
               .join(InvoiceRow, InvoiceRow.id == VoucherRefusalRow.invoice_id)
               .where(VoucherRefusalRow.voucher_id.in_(ids)))
    for r, line, inv in s.execute(refused):
        out.append({"voucher": r.voucher_id, "outcome": "refused", "rule": r.rule, "amount": minor(ZERO, inv.currency),
                    "at": r.at, "invoice": inv.id, "invoice_status": inv.status, "period": inv.period,
                    "line_no": line.line_no, "line_kind": line.kind, "line_amount": minor(line.amount, inv.currency),
                    "contract": line.plan, "supplier": line.supplier, "model": line.model, "lease": line.lease})
    out.sort(key=lambda x: (x["at"], x["invoice"], x["line_no"], x["voucher"]))
    return out


from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.openapi import formats
from suanli.api.routers import legal as legal_routes
from suanli.api.routers import payouts as payout_routes
from suanli.api.schemas.common import Name, Period
from suanli.api.schemas.money import (
    BilledInvoiceResponse,
    CreditNoteRequest,
    DebitNoteRequest,
    InvoiceSummary,
    IssueRequest,
    LedgerCheckResponse,
    PreviewResponse,
    RevenueReportResponse,
    StatementResponse,
    VoidRequest,
)
from suanli.errors import ValidationError
from suanli.service import billing, exports, invoice_notes, statements

router = APIRouter(tags=["billing"])


@router.get("/v1/billing/preview/{period}", response_model=PreviewResponse)
def preview(period: Period, p: PlatformDep, who: PrincipalDep, tenant: Name | None = None) -> Any:
    """What a month's invoice would be now (to date for the current month); nothing is written."""
    return billing.draft_doc(billing.preview(p, who, period, tenant), who)


@router.get("/v1/billing/invoices", response_model=list[InvoiceSummary])
def list_invoices(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None, period: Period | None = None,
                  status: Name | None = None) -> Any:
    return billing.list_invoices(p, who, tenant=tenant, period=period, status=status)


@router.post("/v1/billing/invoices", response_model=BilledInvoiceResponse, status_code=201)
def issue(body: IssueRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Issue a tenant's invoice for a month that is over (operator)."""
    return billing.issue_invoice(p, who, body.tenant, body.period, body.vouchers)


@router.get("/v1/billing/invoices/{invoice_id}", response_model=BilledInvoiceResponse,
            responses=formats("text/csv", "text/html"))
def show(invoice_id: Name, p: PlatformDep, who: PrincipalDep, format: Name = "json", lang: Name = "en") -> Any:
    """One invoice; ``format`` json (default), csv or html (printable: seller and buyer, lines, tax per
    rate, totals; times in the operator's time zone); ``lang`` en (default) or zh-CN for csv and html."""
    if format not in ("json", "csv", "html"):
        raise ValidationError(f"format {format!r} not allowed; allowed: json, csv, html", field="format")
    lang = exports.check_lang(lang)
    doc = billing.invoice_doc(p, who, invoice_id)
    if format == "csv":
        return PlainTextResponse(exports.invoice_csv(doc, lang), media_type="text/csv")
    if format == "html":
        return HTMLResponse(exports.invoice_html(doc, lang, p.settings.time_zone))
    if format != "json":
        raise ValidationError(f"format {format!r} not allowed; allowed: json, csv, html", field="format")
    return doc


@router.post("/v1/billing/invoices/{invoice_id}/pay", response_model=BilledInvoiceResponse)
def pay(invoice_id: Name, p: PlatformDep, who: PrincipalDep) -> Any:
    return billing.pay_invoice(p, who, invoice_id)


@router.post("/v1/billing/invoices/{invoice_id}/void", response_model=BilledInvoiceResponse)
def void(invoice_id: Name, body: VoidRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    return billing.void_invoice(p, who, invoice_id, body.reason)


@router.post("/v1/billing/invoices/{invoice_id}/credit-notes", response_model=BilledInvoiceResponse, status_code=201)
def credit_note(invoice_id: Name, body: CreditNoteRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    return billing.credit_note(p, who, invoice_id, body.amount, body.reason)


@router.post("/v1/billing/invoices/{invoice_id}/debit-notes", response_model=BilledInvoiceResponse, status_code=201)
def debit_note(invoice_id: Name, body: DebitNoteRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Bill a tenant more on an issued invoice, with a reason (operator): the operator's own revenue,
    owed until ``pay`` collects it."""
    return invoice_notes.debit_note(p, who, invoice_id, body.amount, body.reason)


@router.get("/v1/statements/supplier", response_model=StatementResponse)
def supplier_statement(p: PlatformDep, who: PrincipalDep, supplier: Name | None = None,
                       period: Period | None = None) -> Any:
    """A supplier's revenue share per period and node (with model and site); a supplier sees its own."""
    return statements.supplier_statement(p, who, supplier, period)


@router.get("/v1/statements/revenue", response_model=RevenueReportResponse)
def revenue_report(p: PlatformDep, who: PrincipalDep, period: Period | None = None) -> Any:
    """The operator's revenue report: charges, shares, commission, vouchers, wallet, due; ledger sum."""
    return statements.revenue_report(p, who, period)


@router.get("/v1/ledger/check", response_model=LedgerCheckResponse)
def ledger_check(p: PlatformDep, who: PrincipalDep) -> Any:
    """Trial balance: every account, the sum (always zero), unbalanced entries (always none)."""
    return billing.ledger_check(p, who)


# Invoices for China (legal profiles, tax rates) and supplier payouts have their own modules; they are
# served with the billing routes.
router.include_router(legal_routes.router)
router.include_router(payout_routes.router)

"""The platform core's money routes, kept as aliases of the ledger's (one source of truth):

- ``GET /v1/invoices/{period}``: the tenant's invoice for the month — the issued document once the
  month is issued (``GET /v1/billing/invoices/{id}``), else the draft (``GET /v1/billing/preview/{period}``,
  to date for the current month), rated by the ledger;
- ``GET /v1/revenue/{period}`` = ``GET /v1/statements/supplier?period=``: the supplier's share of
  the month's issued invoices.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.openapi import formats
from suanli.api.schemas.common import Name, Period
from suanli.api.schemas.money import (
    PreviewResponse,
    StatementResponse,
)
from suanli.errors import ValidationError
from suanli.service import billing, exports, statements

FORMATS = ("json", "csv", "html")

router = APIRouter(tags=["invoices"])


@router.get("/v1/invoices/{period}", response_model=PreviewResponse, responses=formats("text/csv", "text/html"))
def show_invoice(period: Period, p: PlatformDep, who: PrincipalDep, tenant: Name | None = None,
                 format: Name = "json", lang: Name = "en") -> Any:
    """A tenant's invoice for a month (YYYY-MM): the issued invoice if the month is issued (status
    issued or paid, with its id), else the draft to date (status preview): lines (plans, packages, list
    prices), tax, vouchers, credits, wallet, amount due. ``format`` json (default), csv or html: the
    draft exports exactly as the issued invoice does; ``lang`` en (default) or zh-CN for csv and html."""
    if format not in FORMATS:
        raise ValidationError(f"format {format!r} not allowed; allowed: {', '.join(FORMATS)}", field="format")
    lang = exports.check_lang(lang)
    doc = billing.month_invoice(p, who, period, tenant)
    if format == "csv":
        return PlainTextResponse(exports.invoice_csv(doc, lang), media_type="text/csv")
    if format == "html":
        return HTMLResponse(exports.invoice_html(doc, lang, p.settings.time_zone))
    return doc


@router.get("/v1/revenue/{period}", response_model=StatementResponse)
def supplier_revenue(period: Period, p: PlatformDep, who: PrincipalDep, supplier: Name | None = None) -> Any:
    """A supplier's share and the operator's commission on a month's issued invoices (the supplier statement)."""
    return statements.supplier_statement(p, who, supplier, period)

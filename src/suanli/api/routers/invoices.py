from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.invoices import InvoiceResponse, RevenueResponse
from suanli.service import invoices

router = APIRouter(tags=["invoices"])


@router.get("/v1/invoices/{period}", response_model=InvoiceResponse)
def show_invoice(period: str, p: PlatformDep, who: PrincipalDep, tenant: str | None = None) -> dict[str, Any]:
    """A tenant's invoice for a month (YYYY-MM); to date for the current month."""
    inv = invoices.invoice(p, who, period, tenant)
    return {"tenant": inv.tenant, "period": inv.period, "currency": inv.currency, "issued_at": inv.issued_at,
            "lines": [line.__dict__ for line in inv.lines], "total": inv.total}


@router.get("/v1/revenue/{period}", response_model=RevenueResponse)
def supplier_revenue(period: str, p: PlatformDep, who: PrincipalDep, supplier: str | None = None) -> dict[str, Any]:
    """A supplier's revenue share and the operator's commission for a month."""
    return invoices.supplier_revenue(p, who, period, supplier)

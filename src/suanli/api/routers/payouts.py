"""Supplier payouts (records with the bank's reference and the months covered) and earnings to date."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.legal import EarningsResponse, PayoutResponse
from suanli.api.schemas.money import PayoutRequest
from suanli.errors import ValidationError
from suanli.service import payouts

router = APIRouter(tags=["payouts"])


@router.post("/v1/payouts", response_model=PayoutResponse, status_code=201)
def record(body: PayoutRequest, p: PlatformDep, who: PrincipalDep, response: Response,
           idempotency_key: Annotated[str | None, Header()] = None) -> Any:
    """Record a payout to a supplier (operator): at most what is owed (else 409 with ``owed``). Send an
    ``Idempotency-Key`` header: the same key again answers 200 with the payout already recorded."""
    out, new = payouts.record_payout(p, who, body.supplier, body.amount, paid_on=body.paid_on,
                                     reference=body.reference, periods=body.periods, idempotency_key=idempotency_key)
    if not new:
        response.status_code = 200
    return out


@router.get("/v1/payouts", response_model=list[PayoutResponse])
def list_payouts(p: PlatformDep, who: PrincipalDep, supplier: Name | None = None) -> Any:
    """Payouts, newest first (a supplier sees its own)."""
    return payouts.list_payouts(p, who, supplier)


@router.get("/v1/statements/supplier/earnings", response_model=EarningsResponse)
def earnings(p: PlatformDep, who: PrincipalDep, supplier: Name | None = None, period: Name = "current") -> Any:
    """A supplier's earnings to date: issued months, SLA credits borne, paid, owed, and the month's share
    so far (provisional: from the drafts of invoices not issued yet). ``period``: ``current`` or YYYY-MM."""
    if period != "current" and not (len(period) == 7 and period[4] == "-"):
        raise ValidationError(f"period {period[:20]!r} not allowed; allowed: current, or a month YYYY-MM",
                              field="period")
    return payouts.supplier_earnings(p, who, supplier, period)

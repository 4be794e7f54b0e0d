"""A tenant's money as its console shows it: cost to date per lease, paying an invoice from the wallet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.money import BilledInvoiceResponse
from suanli.api.schemas.tenant_money import LeaseCostsResponse
from suanli.service import tenant_money

router = APIRouter(tags=["billing"])


@router.get("/v1/lease-costs", response_model=LeaseCostsResponse)
def lease_costs(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None, lease: Name | None = None) -> Any:
    """Cost to date of each lease (or one ``lease``): the invoice lines naming it, summed over its months
    (issued invoices, else the month's draft to now). A tenant its own; the operator names the tenant."""
    return tenant_money.lease_costs(p, who, tenant, lease)


@router.post("/v1/billing/invoices/{invoice_id}/wallet-payment", response_model=BilledInvoiceResponse)
def pay_from_wallet(invoice_id: Name, p: PlatformDep, who: PrincipalDep) -> Any:
    """Pay what is outstanding on an issued invoice from the tenant's wallet balance (its admin or finance
    member; the operator for any tenant). All or nothing: a short balance answers 409 and writes nothing."""
    return tenant_money.pay_from_wallet(p, who, invoice_id)

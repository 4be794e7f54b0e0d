from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Document, Name, PlanTenant
from suanli.api.schemas.money import (
    CreditGrantRequest,
    PlanEndRequest,
    PlanResponse,
    TopUpRequest,
    WalletPolicyRequest,
    WalletResponse,
)
from suanli.service import plans, wallets

router = APIRouter(tags=["wallets", "plans"])


@router.get("/v1/wallet", response_model=WalletResponse)
def show_wallet(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None) -> Any:
    """Balance, credits and runway (a tenant sees its own; the operator names one)."""
    return wallets.show_wallet(p, who, tenant)


@router.post("/v1/wallet/top-ups", response_model=WalletResponse, status_code=201)
def top_up(body: TopUpRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Record money received into a tenant's wallet (operator); resumes suspended leases if it now can."""
    return wallets.top_up(p, who, body.tenant, body.amount, body.reference)


@router.post("/v1/wallet/credits", response_model=WalletResponse, status_code=201)
def grant_credit(body: CreditGrantRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Grant an operator credit (coupon), spent after vouchers and before wallet cash."""
    return wallets.grant_credit(p, who, body.tenant, body.amount, body.reason)


@router.put("/v1/wallet/policy", response_model=WalletResponse)
def set_policy(body: WalletPolicyRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Make a tenant prepaid with a runway rule (warn / suspend hours)."""
    return wallets.set_policy(p, who, body.tenant, body.warn_hours, body.suspend_hours)


@router.post("/v1/wallet/check")
def check_runway(p: PlatformDep, who: PrincipalDep) -> Any:
    """Apply the low-balance rule now (operator): suspend or resume pay-as-you-go leases."""
    return {"changes": wallets.check_runway(p, who)}


@router.post("/v1/plans", response_model=PlanResponse, status_code=201)
def create_plan(body: Document, p: PlatformDep, who: PrincipalDep) -> Any:
    """A price plan (payg, spot, term, commit, spend_commitment) for a tenant, an order, or the default
    plan (tenant '*'). A term or commit plan reserves its devices; 409 (nothing written) if the fleet
    cannot hold them."""
    return plans.create_plan(p, who, body)


@router.post("/v1/plans/{plan_id}/end", response_model=PlanResponse)
def end_plan(plan_id: Name, body: PlanEndRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """End a plan now or later (operator); a term or commit plan gives its devices back then."""
    return plans.end_plan(p, who, plan_id, body.at)


@router.get("/v1/plans", response_model=list[PlanResponse])
def list_plans(p: PlatformDep, who: PrincipalDep, tenant: PlanTenant | None = None) -> Any:
    return plans.list_plans(p, who, tenant)

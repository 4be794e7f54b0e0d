from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.openapi import formats
from suanli.api.schemas.common import Name
from suanli.api.schemas.money import RelatedPartyRequest, VoucherAuditRow, VoucherRequest, VoucherResponse
from suanli.api.schemas.vouchers import (
    ApprovedSupplierRequest,
    ApprovedSuppliersResponse,
    ClaimRequest,
    ClaimResponse,
    ContractRequest,
    ContractResponse,
    FirmRequest,
    FirmResponse,
    RedemptionRequest,
    RedemptionResponse,
    SchemeResponse,
)
from suanli.service import exports, vouchers

router = APIRouter(tags=["vouchers"])
AUDIT_COLUMNS = tuple(VoucherAuditRow.model_fields)


@router.post("/v1/vouchers", response_model=VoucherResponse, status_code=201)
def issue_voucher(body: VoucherRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Issue a compute voucher (算力券) funded by a named issuer to a tenant, under a scheme (operator)."""
    return vouchers.issue_voucher(p, who, tenant=body.tenant, issuer=body.issuer, percent=body.percent,
                                  cap=body.cap, valid_from=body.valid_from, valid_to=body.valid_to,
                                  scheme=body.scheme)


@router.get("/v1/vouchers", response_model=list[VoucherResponse])
def list_vouchers(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None, issuer: Name | None = None) -> Any:
    return vouchers.list_vouchers(p, who, tenant=tenant, issuer=issuer)


@router.get("/v1/vouchers/schemes", response_model=list[SchemeResponse])
def schemes(p: PlatformDep, who: PrincipalDep) -> Any:
    """The rule presets of real schemes (Beijing, Shanghai, Shenzhen) and custom."""
    return vouchers.schemes(p, who)


@router.get("/v1/vouchers/audit", response_model=list[VoucherAuditRow], responses=formats("text/csv"))
def audit(p: PlatformDep, who: PrincipalDep, issuer: Name | None = None, tenant: Name | None = None,
          format: Name = "json") -> Any:
    """Every use and refusal, line by line, with the rule (id and words); ``format=csv`` for the issuer."""
    rows = vouchers.audit(p, who, issuer=issuer, tenant=tenant)
    if format == "csv":
        return PlainTextResponse(exports.rows_csv(rows, AUDIT_COLUMNS), media_type="text/csv")
    return rows


@router.post("/v1/vouchers/contracts", response_model=ContractResponse, status_code=201)
def record_contract(body: ContractRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Record a paid contract's facts (signed date, value, other subsidy) for the voucher rules (operator)."""
    return vouchers.record_contract(p, who, plan=body.plan, signed_on=body.signed_on, value=body.value,
                                    other_subsidy=body.other_subsidy)


@router.get("/v1/vouchers/contracts", response_model=list[ContractResponse])
def list_contracts(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None) -> Any:
    return vouchers.list_contracts(p, who, tenant=tenant)


@router.post("/v1/vouchers/approved-suppliers", response_model=ApprovedSuppliersResponse, status_code=201)
def approve_supplier(body: ApprovedSupplierRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Put a supplier on a scheme's approved supplier list (operator)."""
    return vouchers.approve_supplier(p, who, body.scheme, body.supplier)


@router.get("/v1/vouchers/approved-suppliers")
def approved_suppliers(p: PlatformDep, who: PrincipalDep) -> Any:
    return vouchers.approved_suppliers(p, who)


@router.put("/v1/vouchers/firms/{tenant}", response_model=FirmResponse)
def set_firm(tenant: Name, body: FirmRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Mark a tenant a start-up (Shenzhen pays up to 60 % for one) or not (operator)."""
    return vouchers.set_firm(p, who, tenant, startup=body.startup, note=body.note)


@router.post("/v1/vouchers/{voucher_id}/claims", response_model=ClaimResponse, status_code=201)
def claim(voucher_id: Name, body: ClaimRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Claim a voucher against a contract (operator); one claim per contract (409 for a second)."""
    return vouchers.claim(p, who, voucher_id, body.contract)


@router.post("/v1/vouchers/{voucher_id}/redemptions", response_model=RedemptionResponse, status_code=201)
def redeem(voucher_id: Name, body: RedemptionRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Redeem a claimed voucher with an issued invoice and delivery evidence (operator)."""
    return vouchers.redeem(p, who, voucher_id, body.invoice, body.evidence)


@router.post("/v1/related-parties", status_code=201)
def add_related(body: RelatedPartyRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Register a buyer–supplier relation: vouchers never pay such deals."""
    return vouchers.add_related_party(p, who, body.tenant, body.supplier, body.note)

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.money import RelatedPartyRequest, VoucherAuditRow, VoucherRequest, VoucherResponse
from suanli.service import exports, vouchers

router = APIRouter(tags=["vouchers"])
AUDIT_COLUMNS = tuple(VoucherAuditRow.model_fields)


@router.post("/v1/vouchers", response_model=VoucherResponse, status_code=201)
def issue_voucher(body: VoucherRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Issue a compute voucher (算力券) funded by a named issuer to a tenant (operator)."""
    return vouchers.issue_voucher(p, who, tenant=body.tenant, issuer=body.issuer, percent=body.percent,
                                  cap=body.cap, valid_from=body.valid_from, valid_to=body.valid_to)


@router.get("/v1/vouchers", response_model=list[VoucherResponse])
def list_vouchers(p: PlatformDep, who: PrincipalDep, tenant: str | None = None, issuer: str | None = None) -> Any:
    return vouchers.list_vouchers(p, who, tenant=tenant, issuer=issuer)


@router.get("/v1/vouchers/audit", response_model=list[VoucherAuditRow])
def audit(p: PlatformDep, who: PrincipalDep, issuer: str | None = None, tenant: str | None = None,
          format: str = "json") -> Any:
    """Every use and refusal, line by line, with the rule; ``format=csv`` for the issuer's audit."""
    rows = vouchers.audit(p, who, issuer=issuer, tenant=tenant)
    if format == "csv":
        return PlainTextResponse(exports.rows_csv(rows, AUDIT_COLUMNS), media_type="text/csv")
    return rows


@router.post("/v1/related-parties", status_code=201)
def add_related(body: RelatedPartyRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Register a buyer–supplier relation: vouchers never pay such deals."""
    return vouchers.add_related_party(p, who, body.tenant, body.supplier, body.note)

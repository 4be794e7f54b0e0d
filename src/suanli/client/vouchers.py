"""Voucher endpoints of the suanli API: issue under a scheme, claim, redeem, the rule facts, audit.

::

    with SuanliClient(server, token) as api:
        v = VoucherClient(api).issue(tenant="acme", issuer="beijing-city", scheme="beijing", percent="0.2",
                                     cap="100000", valid_from=start, valid_to=end)
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

from suanli.api.schemas.money import VoucherAuditRow, VoucherResponse
from suanli.api.schemas.vouchers import (
    ApprovedSuppliersResponse,
    ClaimResponse,
    ContractResponse,
    FirmResponse,
    RedemptionResponse,
    SchemeResponse,
)
from suanli.client.http import Amount, Endpoints, amount_text


class VoucherClient(Endpoints):

    def issue(self, *, tenant: str, issuer: str, percent: Amount, cap: Amount, valid_from: datetime,
              valid_to: datetime, scheme: str = "custom") -> VoucherResponse:
        return self._one(VoucherResponse, "POST", "/v1/vouchers", json={
            "tenant": tenant, "issuer": issuer, "percent": amount_text(percent), "cap": amount_text(cap), "scheme": scheme,
            "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()})

    def vouchers(self, *, tenant: str | None = None, issuer: str | None = None) -> list[VoucherResponse]:
        return self._many(VoucherResponse, "/v1/vouchers", {"tenant": tenant, "issuer": issuer})

    def schemes(self) -> list[SchemeResponse]:
        return self._many(SchemeResponse, "/v1/vouchers/schemes")

    def audit(self, *, issuer: str | None = None, tenant: str | None = None) -> list[VoucherAuditRow]:
        return self._many(VoucherAuditRow, "/v1/vouchers/audit", {"issuer": issuer, "tenant": tenant})

    def audit_csv(self, *, issuer: str | None = None, tenant: str | None = None) -> str:
        params = {k: v for k, v in {"issuer": issuer, "tenant": tenant, "format": "csv"}.items() if v}
        out: str = self.api.request("GET", "/v1/vouchers/audit", params=params, decode=False)
        return out

    def record_contract(self, *, plan: str, signed_on: date, value: Amount, other_subsidy: str = ""
                        ) -> ContractResponse:
        return self._one(ContractResponse, "POST", "/v1/vouchers/contracts", json={
            "plan": plan, "signed_on": signed_on.isoformat(), "value": amount_text(value), "other_subsidy": other_subsidy})

    def contracts(self, *, tenant: str | None = None) -> list[ContractResponse]:
        return self._many(ContractResponse, "/v1/vouchers/contracts", {"tenant": tenant})

    def approve_supplier(self, scheme: str, supplier: str) -> ApprovedSuppliersResponse:
        return self._one(ApprovedSuppliersResponse, "POST", "/v1/vouchers/approved-suppliers",
                         json={"scheme": scheme, "supplier": supplier})

    def approved_suppliers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = self.api.request("GET", "/v1/vouchers/approved-suppliers")
        return out

    def set_firm(self, tenant: str, *, startup: bool, note: str = "") -> FirmResponse:
        return self._one(FirmResponse, "PUT", f"/v1/vouchers/firms/{quote(tenant, safe='')}",
                         json={"startup": startup, "note": note})

    def claim(self, voucher: str, contract: str) -> ClaimResponse:
        return self._one(ClaimResponse, "POST", f"/v1/vouchers/{quote(voucher, safe='')}/claims",
                         json={"contract": contract})

    def redeem(self, voucher: str, *, invoice: str, evidence: str) -> RedemptionResponse:
        return self._one(RedemptionResponse, "POST", f"/v1/vouchers/{quote(voucher, safe='')}/redemptions",
                         json={"invoice": invoice, "evidence": evidence})

"""Invoices ready for China and supplier payouts, over a :class:`~suanli.client.http.SuanliClient`.

::

    with SuanliClient(server, token) as api:
        legal = LegalClient(api)
        legal.set_seller({"legal_name": "北京算力科技有限公司", "tax_id": "91350100M000100Y43"})
        legal.set_tax_rate("compute", "0.06")
        legal.record_payout("huadong-idc", "1000.00", reference="TX-2026-11-01", periods=["2026-10"],
                            key="payout-huadong-2026-10")
        print(legal.earnings("huadong-idc").earned_to_date)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from suanli.api.schemas.legal import (
    EarningsResponse,
    LegalProfileResponse,
    PayoutResponse,
    TaxRateResponse,
    TaxRatesResponse,
)
from suanli.client.http import Amount, Endpoints, amount_text


class LegalClient(Endpoints):
    """Legal profiles, tax rates, payouts and supplier earnings."""

    def seller(self) -> LegalProfileResponse:
        return self._one(LegalProfileResponse, "GET", "/v1/legal/seller")

    def set_seller(self, profile: Mapping[str, Any]) -> LegalProfileResponse:
        return self._one(LegalProfileResponse, "PUT", "/v1/legal/seller", json=dict(profile))

    def buyer(self, tenant: str) -> LegalProfileResponse:
        return self._one(LegalProfileResponse, "GET", f"/v1/legal/buyers/{quote(tenant, safe='')}")

    def set_buyer(self, tenant: str, profile: Mapping[str, Any]) -> LegalProfileResponse:
        return self._one(LegalProfileResponse, "PUT", f"/v1/legal/buyers/{quote(tenant, safe='')}",
                         json=dict(profile))

    def tax_rates(self) -> TaxRatesResponse:
        return self._one(TaxRatesResponse, "GET", "/v1/tax-rates")

    def set_tax_rate(self, product_type: str, rate: Amount, *, effective_from: datetime | None = None,
                     reason: str = "") -> TaxRateResponse:
        body: dict[str, Any] = {"product_type": product_type, "rate": amount_text(rate), "reason": reason}
        if effective_from is not None:
            body["effective_from"] = effective_from.isoformat()
        return self._one(TaxRateResponse, "POST", "/v1/tax-rates", json=body)

    def record_payout(self, supplier: str, amount: Amount, *, paid_on: date | None = None, reference: str = "",
                      periods: Sequence[str] = (), key: str | None = None) -> PayoutResponse:
        """Record a payout; ``key`` (the Idempotency-Key) makes a retry record nothing new."""
        body: dict[str, Any] = {"supplier": supplier, "amount": amount_text(amount), "reference": reference,
                                "periods": list(periods)}
        if paid_on is not None:
            body["paid_on"] = paid_on.isoformat()
        return self._one(PayoutResponse, "POST", "/v1/payouts", json=body,
                         headers={"Idempotency-Key": key} if key else None)

    def payouts(self, supplier: str | None = None) -> list[PayoutResponse]:
        return self._many(PayoutResponse, "/v1/payouts", {"supplier": supplier})

    def earnings(self, supplier: str | None = None, period: str = "current") -> EarningsResponse:
        return self._one(EarningsResponse, "GET", "/v1/statements/supplier/earnings",
                         params={"supplier": supplier, "period": period})

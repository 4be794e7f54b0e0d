"""Money endpoints of the suanli API, over a :class:`~suanli.client.http.SuanliClient`.

::

    from suanli.client import SuanliClient
    from suanli.client.money import MoneyClient

    with SuanliClient(server, token) as api:
        money = MoneyClient(api)
        money.ingest([{"id": "req-1", "source": "gateway", "type": "inference_input_tokens",
                       "subject": "acme", "time": "2026-11-23T08:00:00Z", "data": {"quantity": "1200"}}])
        print(money.preview("2026-11").total)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from suanli.api.schemas.legal import PayoutResponse
from suanli.api.schemas.money import (
    BilledInvoiceResponse,
    IngestResponse,
    InvoiceSummary,
    LedgerCheckResponse,
    PackageProductResponse,
    PackageResponse,
    PlanResponse,
    PreviewResponse,
    RevenueReportResponse,
    StatementResponse,
    UsageSummaryResponse,
    VoucherAuditRow,
    VoucherResponse,
    WalletResponse,
)
from suanli.api.schemas.tenant_money import LeaseCostsResponse
from suanli.client.errors import error_of
from suanli.client.http import Amount, Endpoints, amount_text
from suanli.client.vouchers import VoucherClient


class MoneyClient(Endpoints):
    """Usage, plans, wallets, vouchers, packages, invoices and statements."""

    # -- usage ------------------------------------------------------------------------------------

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> IngestResponse:
        """Send usage events (one batch, all or nothing; resends count as duplicates)."""
        return self._one(IngestResponse, "POST", "/v1/usage/batch", json={"events": list(events)})

    def ingest_one(self, event: Mapping[str, Any]) -> IngestResponse:
        return self._one(IngestResponse, "POST", "/v1/usage/events", json=dict(event))

    def usage(self, *, tenant: str | None = None, period: str | None = None, source: str | None = None
              ) -> list[UsageSummaryResponse]:
        return self._many(UsageSummaryResponse, "/v1/usage", {"tenant": tenant, "period": period, "source": source})

    # -- plans, wallets, packages -----------------------------------------------------------------

    def create_plan(self, plan: Mapping[str, Any]) -> PlanResponse:
        return self._one(PlanResponse, "POST", "/v1/plans", json=dict(plan))

    def end_plan(self, plan_id: str, at: datetime | str | None = None) -> PlanResponse:
        return self._one(PlanResponse, "POST", f"/v1/plans/{quote(plan_id, safe='')}/end",
                         json={"at": at.isoformat() if isinstance(at, datetime) else at})

    def plans(self, *, tenant: str | None = None) -> list[PlanResponse]:
        return self._many(PlanResponse, "/v1/plans", {"tenant": tenant})

    def wallet(self, tenant: str | None = None) -> WalletResponse:
        return self._one(WalletResponse, "GET", "/v1/wallet", params={"tenant": tenant})

    def top_up(self, tenant: str, amount: Amount, reference: str = "") -> WalletResponse:
        return self._one(WalletResponse, "POST", "/v1/wallet/top-ups",
                         json={"tenant": tenant, "amount": amount_text(amount), "reference": reference})

    def grant_credit(self, tenant: str, amount: Amount, reason: str) -> WalletResponse:
        return self._one(WalletResponse, "POST", "/v1/wallet/credits",
                         json={"tenant": tenant, "amount": amount_text(amount), "reason": reason})

    def set_wallet_policy(self, tenant: str, warn_hours: Amount, suspend_hours: Amount) -> WalletResponse:
        return self._one(WalletResponse, "PUT", "/v1/wallet/policy",
                         json={"tenant": tenant, "warn_hours": amount_text(warn_hours), "suspend_hours": amount_text(suspend_hours)})

    def check_wallets(self) -> dict[str, Any]:
        out: dict[str, Any] = self.api.request("POST", "/v1/wallet/check")
        return out

    def package_products(self, *, include_retired: bool = False) -> list[PackageProductResponse]:
        return self._many(PackageProductResponse, "/v1/package-products",
                          {"include_retired": "true"} if include_retired else None)

    def create_package_product(self, *, name: str, meter: str, quantity: Amount, price: Amount,
                               valid_days: int | None = None, valid_from: datetime | None = None,
                               valid_to: datetime | None = None, model: str = "", site: str = "",
                               unit: str = "units", tiers: Sequence[tuple[int, Amount]] = ()
                               ) -> PackageProductResponse:
        """Define a package product (operator); ``tiers``: (min_count, price each) pairs."""
        return self._one(PackageProductResponse, "POST", "/v1/package-products", json={
            "name": name, "meter": meter, "quantity": amount_text(quantity), "price": amount_text(price), "model": model, "site": site,
            "unit": unit, "tiers": [{"min_count": n, "price": amount_text(x)} for n, x in tiers], "valid_days": valid_days,
            "valid_from": valid_from.isoformat() if valid_from else None,
            "valid_to": valid_to.isoformat() if valid_to else None})

    def set_package_product_price(self, product: str, price: Amount,
                                  tiers: Sequence[tuple[int, Amount]] | None = None) -> PackageProductResponse:
        body: dict[str, Any] = {"price": amount_text(price)}
        if tiers is not None:
            body["tiers"] = [{"min_count": n, "price": amount_text(x)} for n, x in tiers]
        return self._one(PackageProductResponse, "PUT", f"/v1/package-products/{quote(product, safe='')}/price",
                         json=body)

    def retire_package_product(self, product: str) -> PackageProductResponse:
        return self._one(PackageProductResponse, "POST", f"/v1/package-products/{quote(product, safe='')}/retire")

    def buy_package(self, product: str, count: int = 1) -> PackageResponse:
        """Buy ``count`` packages of a product at its listed price (a tenant; no price is sent)."""
        return self._one(PackageResponse, "POST", "/v1/packages", json={"product": product, "count": count})

    def sell_package(self, *, tenant: str, reason: str, product: str | None = None, count: int = 1,
                     price: Amount | None = None, meter: str | None = None, quantity: Amount | None = None,
                     expires_at: datetime | None = None, starts_at: datetime | None = None, model: str = "",
                     site: str = "", unit: str = "units") -> PackageResponse:
        """Sell a tenant a package at a price of the operator's choosing (``price`` each), with a reason."""
        body: dict[str, Any] = {"tenant": tenant, "reason": reason, "count": count}
        if product:
            body["product"] = product
        if price is not None:
            body["price"] = amount_text(price)
        if meter:
            body |= {"meter": meter, "model": model, "site": site, "unit": unit}
        if quantity is not None:
            body["quantity"] = amount_text(quantity)
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        if starts_at is not None:
            body["starts_at"] = starts_at.isoformat()
        return self._one(PackageResponse, "POST", "/v1/packages/sales", json=body)

    def packages(self, *, tenant: str | None = None) -> list[PackageResponse]:
        return self._many(PackageResponse, "/v1/packages", {"tenant": tenant})

    # -- vouchers ---------------------------------------------------------------------------------

    def issue_voucher(self, *, tenant: str, issuer: str, percent: Amount, cap: Amount, valid_from: datetime,
                      valid_to: datetime, scheme: str = "custom") -> VoucherResponse:
        """Issue a voucher (see :class:`~suanli.client.vouchers.VoucherClient` for schemes, claims, redemptions)."""
        return VoucherClient(self.api).issue(tenant=tenant, issuer=issuer, percent=percent, cap=cap,
                                             valid_from=valid_from, valid_to=valid_to, scheme=scheme)

    def vouchers(self, *, tenant: str | None = None, issuer: str | None = None) -> list[VoucherResponse]:
        return VoucherClient(self.api).vouchers(tenant=tenant, issuer=issuer)

    def voucher_audit(self, *, issuer: str | None = None, tenant: str | None = None) -> list[VoucherAuditRow]:
        return VoucherClient(self.api).audit(issuer=issuer, tenant=tenant)

    def add_related_party(self, tenant: str, supplier: str, note: str = "") -> dict[str, Any]:
        out: dict[str, Any] = self.api.request("POST", "/v1/related-parties",
                                               json={"tenant": tenant, "supplier": supplier, "note": note})
        return out

    # -- invoices and statements ------------------------------------------------------------------

    def preview(self, period: str, *, tenant: str | None = None) -> PreviewResponse:
        return self._one(PreviewResponse, "GET", f"/v1/billing/preview/{period}", params={"tenant": tenant})

    def invoices(self, *, tenant: str | None = None, period: str | None = None, status: str | None = None
                 ) -> list[InvoiceSummary]:
        return self._many(InvoiceSummary, "/v1/billing/invoices", {"tenant": tenant, "period": period,
                                                                    "status": status})

    def issue_invoice(self, tenant: str, period: str, vouchers: Sequence[str] | None = None) -> BilledInvoiceResponse:
        body: dict[str, Any] = {"tenant": tenant, "period": period}
        if vouchers is not None:
            body["vouchers"] = list(vouchers)
        return self._one(BilledInvoiceResponse, "POST", "/v1/billing/invoices", json=body)

    def billed_invoice(self, invoice_id: str) -> BilledInvoiceResponse:
        return self._one(BilledInvoiceResponse, "GET", f"/v1/billing/invoices/{invoice_id}")

    def export_invoice(self, invoice_id: str, fmt: str, lang: str = "en") -> str:
        """The invoice as ``csv`` or ``html`` text (``json`` as the raw JSON text), in ``lang`` (en, zh-CN)."""
        r = self.api._http.get(f"/v1/billing/invoices/{invoice_id}", params={"format": fmt, "lang": lang},
                               headers={"Authorization": f"Bearer {self.api.token}"} if self.api.token else None)
        if r.status_code >= 400:
            raise error_of(r)
        return r.text

    def export_month(self, period: str, fmt: str, *, tenant: str | None = None, lang: str = "en") -> str:
        """A month's invoice (the issued one, else the draft) as ``csv`` or ``html`` text (``json``
        as the raw JSON text), in ``lang`` (en, zh-CN)."""
        params = {"format": fmt, "lang": lang} | ({"tenant": tenant} if tenant else {})
        r = self.api._http.get(f"/v1/invoices/{period}", params=params,
                               headers={"Authorization": f"Bearer {self.api.token}"} if self.api.token else None)
        if r.status_code >= 400:
            raise error_of(r)
        return r.text

    def pay_invoice(self, invoice_id: str) -> BilledInvoiceResponse:
        return self._one(BilledInvoiceResponse, "POST", f"/v1/billing/invoices/{invoice_id}/pay")

    def pay_from_wallet(self, invoice_id: str) -> BilledInvoiceResponse:
        """Pay what is outstanding on an issued invoice from the tenant's wallet balance."""
        return self._one(BilledInvoiceResponse, "POST", f"/v1/billing/invoices/{invoice_id}/wallet-payment")

    def lease_costs(self, *, tenant: str | None = None, lease: str | None = None) -> LeaseCostsResponse:
        """Cost to date per lease (the invoice lines naming it, summed over its months)."""
        return self._one(LeaseCostsResponse, "GET", "/v1/lease-costs", params={"tenant": tenant, "lease": lease})

    def void_invoice(self, invoice_id: str, reason: str = "") -> BilledInvoiceResponse:
        return self._one(BilledInvoiceResponse, "POST", f"/v1/billing/invoices/{invoice_id}/void",
                         json={"reason": reason})

    def credit_note(self, invoice_id: str, amount: Amount, reason: str) -> BilledInvoiceResponse:
        return self._one(BilledInvoiceResponse, "POST", f"/v1/billing/invoices/{invoice_id}/credit-notes",
                         json={"amount": amount_text(amount), "reason": reason})

    def debit_note(self, invoice_id: str, amount: Amount, reason: str) -> BilledInvoiceResponse:
        return self._one(BilledInvoiceResponse, "POST", f"/v1/billing/invoices/{invoice_id}/debit-notes",
                         json={"amount": amount_text(amount), "reason": reason})

    def supplier_statement(self, *, supplier: str | None = None, period: str | None = None) -> StatementResponse:
        return self._one(StatementResponse, "GET", "/v1/statements/supplier",
                         params={"supplier": supplier, "period": period})

    def revenue_report(self, period: str | None = None) -> RevenueReportResponse:
        return self._one(RevenueReportResponse, "GET", "/v1/statements/revenue", params={"period": period})

    def payout(self, supplier: str, amount: Amount) -> PayoutResponse:
        """Record a payout (the full form: :meth:`suanli.client.legal.LegalClient.record_payout`)."""
        return self._one(PayoutResponse, "POST", "/v1/payouts", json={"supplier": supplier, "amount": amount_text(amount)})

    def ledger_check(self) -> LedgerCheckResponse:
        return self._one(LedgerCheckResponse, "GET", "/v1/ledger/check")

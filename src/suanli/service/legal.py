"""Invoices for China: the seller's and buyers' legal profiles, and tax rates per product type.

- The **seller** is the operator: its legal name, unified social credit code (or a foreign tax
  id), address, phone, bank and account, set by the operator and printed on every invoice.
- A **buyer** is a tenant organisation: the same details and the invoice type it wants
  (增值税普通发票 / 增值税专用发票), set by the tenant's admin or finance member, or by the
  operator; never by another tenant (404, as for a tenant that does not exist).
- **Tax rates** per product type (:mod:`suanli.domain.tax`) are set by the operator, effective from
  now or later; ``SUANLI_TAX_RATE`` is the rate of a product type that has none (the default).

An invoice snapshots the profiles and the tax per rate when it is issued
(:func:`suanli.service.billing.issue_invoice`): a profile or rate changed later never changes it.
A draft shows the profiles and rates in force now.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.legal import SELLER, LegalProfile, check_profile
from suanli.domain.tax import ProductType, TaxRate, check_rate, parse_product_type, rates_at
from suanli.errors import ConflictError, NotFoundError
from suanli.service.billing import resolve_tenant
from suanli.service.platform import Platform
from suanli.store import legal as store

PROFILE_FIELDS = ("legal_name", "tax_id", "foreign_tax_id", "address", "phone", "bank_name", "bank_account",
                  "invoice_type")


def profile_doc(p: LegalProfile, name: str) -> dict[str, Any]:
    return {"party": name, **p.snapshot(), "invoice_type_name": {"en": p.invoice_type.en, "zh-CN": p.invoice_type.zh},
            "updated_at": p.updated_at, "updated_by": p.updated_by}


def seller_profile(p: Platform, actor: Principal) -> dict[str, Any]:
    """The seller's (operator's) profile; 404 until the operator sets it."""
    authorize(actor, Action.READ_SELLER_PROFILE)
    with p.read() as s:
        found = store.get_profile(s, SELLER)
    if found is None:
        raise NotFoundError("the operator has not set the seller's legal profile yet (PUT /v1/legal/seller, "
                            "`suanli legal seller set`)", party=SELLER)
    return profile_doc(found, SELLER)


def set_seller_profile(p: Platform, actor: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Set the seller's profile (operator only); issued invoices keep the profile they were issued with."""
    authorize(actor, Action.SET_SELLER_PROFILE)
    prof = check_profile(SELLER, **_fields(body), updated_at=p.clock.now(), updated_by=actor.name)
    with p.tx() as s:
        store.save_profile(s, prof)
    return profile_doc(prof, SELLER)


def buyer_profile(p: Platform, actor: Principal, tenant: str | None) -> dict[str, Any]:
    """A tenant's buyer profile (a tenant: its own; another tenant's answers 404)."""
    grant = authorize(actor, Action.READ_BUYER_PROFILE)
    with p.read() as s:
        who = resolve_tenant(s, grant, tenant)
        found = store.get_profile(s, who.account_id)
    if found is None:
        raise NotFoundError(f"tenant {who.name!r} has no buyer profile yet: its admin or finance member (or the "
                            f"operator) sets it with PUT /v1/legal/buyers/{who.name} (`suanli legal buyer set`)",
                            tenant=who.name)
    return profile_doc(found, who.name)


def set_buyer_profile(p: Platform, actor: Principal, tenant: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """Set a tenant's buyer profile: its admin or finance member, or the operator."""
    grant = authorize(actor, Action.SET_BUYER_PROFILE)
    now = p.clock.now()
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        prof = check_profile(who.account_id, **_fields(body), updated_at=now, updated_by=actor.name)
        store.save_profile(s, prof)
    return profile_doc(prof, who.name)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in PROFILE_FIELDS if body.get(k) is not None}


def default_rate(p: Platform) -> Decimal:
    return Decimal(p.settings.tax_rate)


def rates_in_force(p: Platform, s: Session, at: datetime) -> dict[ProductType, Decimal]:
    """The tax rate of every product type at ``at`` (the default where the operator set none)."""
    return rates_at(store.tax_rates(s), at, default_rate(p))


def parties(s: Session, tenant_id: str) -> tuple[LegalProfile | None, LegalProfile | None]:
    """(seller, buyer) profiles as they are now (``None`` where not set)."""
    return store.get_profile(s, SELLER), store.get_profile(s, tenant_id)


def list_tax_rates(p: Platform, actor: Principal) -> dict[str, Any]:
    """Every rate set (past, in force and future), the rates in force now and the default."""
    authorize(actor, Action.READ_TAX_RATES)
    now = p.clock.now()
    with p.read() as s:
        rows = store.tax_rates(s)
    in_force = rates_at(rows, now, default_rate(p))
    return {"as_of": now, "default": default_rate(p),
            "in_force": [{"product_type": t.value, "name": {"en": t.en, "zh-CN": t.zh}, "rate": r,
                          "set": any(x.product_type is t and x.effective_from <= now for x in rows)}
                         for t, r in in_force.items()],
            "rates": [_rate_doc(x) for x in rows]}


def _rate_doc(x: TaxRate) -> dict[str, Any]:
    return {"product_type": x.product_type.value, "rate": x.rate, "effective_from": x.effective_from,
            "set_at": x.set_at, "set_by": x.set_by, "reason": x.reason}


def set_tax_rate(p: Platform, actor: Principal, product_type: str, rate: Decimal, effective_from: datetime | None,
                 reason: str = "") -> dict[str, Any]:
    """Set the rate of a product type from ``effective_from`` (default now; never in the past)."""
    authorize(actor, Action.SET_TAX_RATE)
    now = p.clock.now()
    kind = parse_product_type(product_type)
    start = effective_from or now
    checked = check_rate(rate, start, now)
    row = TaxRate(kind, checked, start, now, actor.name, reason)
    with p.tx() as s:
        if not store.add_tax_rate(s, row):
            raise ConflictError(f"{kind.value} already has a tax rate from {start.isoformat()}; choose another "
                                "instant (a later rate supersedes an earlier one)", product_type=kind.value)
    return _rate_doc(row)

"""Package products and prepaid packages (docs/billing.md, "Packages").

The operator defines products (:class:`~suanli.domain.packages.PackageProduct`), changes their
price (purchases from then on; what was bought keeps its price) and retires them. A tenant buys
``count`` packages of a product at the listed price, volume tier applied; it never names a price.
The operator may sell a product at another price (a discount) or a custom package, always with a
reason; the package records the list price it departed from, who sold it and why.

A package's price is billed on the invoice of the month it starts; draws happen as invoices are
rated (:mod:`suanli.ledger.packages`).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.clock import utc
from suanli.domain.money import check_amount
from suanli.domain.packages import (
    Package,
    PackageProduct,
    ProductState,
    VolumeTier,
    check_count,
    check_tiers,
    parse_unit,
)
from suanli.errors import ValidationError
from suanli.ledger.meters import INFORMATIONAL, parse_meter
from suanli.service import spend
from suanli.service.billing import resolve_tenant
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store
from suanli.store import packages as store

MAX_REASON = 500


def _check_scope(p: Platform, s: Session, model: str, site: str) -> None:
    if model and model not in {m.name for m in p.catalog(s)}:
        known = ", ".join(sorted(m.name for m in p.catalog(s)))
        raise ValidationError(f"unknown model {model!r}; allowed: one of the catalog's models ({known}) or none "
                              "(any model)", field="model")
    if site and site not in {x.name for x in fleet_store.list_sites(s)}:
        known = ", ".join(sorted(x.name for x in fleet_store.list_sites(s))) or "none registered"
        raise ValidationError(f"unknown site {site!r}; allowed: a registered site ({known}) or none (any site)",
                              field="site")


def _meter(name: str) -> Any:
    meter = parse_meter(name)
    if meter in INFORMATIONAL:
        raise ValidationError(f"{meter.value} is informational and never billed; a package cannot draw it",
                              field="meter")
    return meter


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a sale at a price of the operator's choosing needs a reason (who asked, why)",
                              field="reason")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"reason is longer than {MAX_REASON} characters", field="reason")
    return reason


def tiers_from(raw: list[tuple[int, Decimal]] | None) -> tuple[VolumeTier, ...]:
    return tuple(VolumeTier(n, price) for n, price in raw or [])


# -- products (operator) --------------------------------------------------------------------------


def create_product(p: Platform, actor: Principal, *, name: str, meter: str, quantity: Decimal, price: Decimal,
                   unit: str = "units", model: str = "", site: str = "", valid_days: int | None = None,
                   valid_from: datetime | None = None, valid_to: datetime | None = None,
                   tiers: list[tuple[int, Decimal]] | None = None) -> PackageProduct:
    """Define a product tenants can buy (operator)."""
    authorize(actor, Action.MANAGE_PACKAGE_PRODUCTS)
    now = p.clock.now()
    valid_from, valid_to = (utc(valid_from) if valid_from else None), (utc(valid_to) if valid_to else None)
    product = PackageProduct("pp_" + secrets.token_hex(6), name.strip(), _meter(meter),
                             check_amount(quantity, "quantity"), check_amount(price, "price"), parse_unit(unit), model, site, valid_days, valid_from, valid_to, tiers_from(tiers), ProductState.ACTIVE,
                             now, actor.name, now)
    if product.valid_to is not None and product.valid_to <= now:
        raise ValidationError(f"valid_to {product.valid_to.isoformat()} is not in the future; a product must be "
                              "buyable for some time after it is defined", field="valid_to")
    with p.tx() as s:
        _check_scope(p, s, model, site)
        return store.add_product(s, product)


def list_products(p: Platform, actor: Principal, *, include_retired: bool = False) -> list[PackageProduct]:
    """The products on sale (and, asked for, the retired ones)."""
    authorize(actor, Action.READ_PACKAGE_PRODUCTS)
    with p.tx() as s:
        return store.list_products(s, include_retired=include_retired)


def set_product_price(p: Platform, actor: Principal, product: str, price: Decimal,
                      tiers: list[tuple[int, Decimal]] | None = None) -> PackageProduct:
    """A new price (and volume tiers; ``None`` keeps the tiers) for purchases from now on (operator).
    Packages bought before keep the price they were bought at."""
    authorize(actor, Action.MANAGE_PACKAGE_PRODUCTS)
    price = check_amount(price, "price")
    with p.tx() as s:
        current = store.get_product(s, product, for_update=True)
        new_tiers = current.tiers if tiers is None else tiers_from(tiers)
        if tiers is None:
            try:
                check_tiers(new_tiers, price)
            except ValidationError as e:
                raise ValidationError(f"{e.message}; give the new tiers with the new price", field="tiers") from None
        return store.save_product(s, replace(current, price=price, tiers=new_tiers, updated_at=p.clock.now()))


def retire_product(p: Platform, actor: Principal, product: str) -> PackageProduct:
    """Stop selling a product (operator); packages bought keep working until they expire."""
    authorize(actor, Action.MANAGE_PACKAGE_PRODUCTS)
    with p.tx() as s:
        current = store.get_product(s, product, for_update=True)
        if current.state is ProductState.RETIRED:
            return current
        return store.save_product(s, replace(current, state=ProductState.RETIRED, updated_at=p.clock.now()))


# -- packages -------------------------------------------------------------------------------------


def _from_product(product: PackageProduct, tenant_id: str, count: int, now: datetime, price: Decimal,
                  *, sold_by: str = "", reason: str = "") -> Package:
    product.check_buyable()
    starts_at, expires_at = product.window(now)
    listed = product.unit_price(count) * count
    return Package("pk_" + secrets.token_hex(6), tenant_id, product.meter, product.quantity * count, starts_at,
                   expires_at, product.model, product.unit.value, price, site=product.site, product=product.id,
                   count=count, list_price=None if price == listed else listed, sold_by=sold_by, reason=reason,
                   created_at=now)


def buy_package(p: Platform, actor: Principal, product: str, count: int = 1) -> dict[str, Any]:
    """A tenant buys ``count`` packages of a product at the listed price (volume tier applied)."""
    grant = authorize(actor, Action.BUY_PACKAGE)
    count = check_count(count)
    now = p.clock.now()
    with p.tx() as s:
        who = resolve_tenant(s, grant, None)
        prod = store.get_product(s, product, for_update=True)
        price = prod.unit_price(count) * count
        spend.check_purchase(p, s, actor, price, f"buying {count} x package {prod.name}")  # a member's limit
        pkg = store.add_package(s, _from_product(prod, who.account_id, count, now, price))
        spend.mark_purchase(s, actor, pkg.id)
    return package_doc(pkg, who.name, prod.name)


def sell_package(p: Platform, actor: Principal, *, tenant: str, reason: str, product: str | None = None,
                 count: int = 1, price: Decimal | None = None, meter: str | None = None, quantity: Decimal | None = None,
                 unit: str = "units", model: str = "", site: str = "", starts_at: datetime | None = None,
                 expires_at: datetime | None = None) -> dict[str, Any]:
    """The operator sells a tenant a package: a product at another price than listed (``price``: each
    package; default the list price), or a custom package (no product: ``meter``, ``quantity``,
    ``expires_at`` and ``price`` for it). Always with a reason; recorded with the package."""
    grant = authorize(actor, Action.SELL_PACKAGE)
    reason = _reason(reason)
    count = check_count(count)
    each = None if price is None else check_amount(price, "price")
    starts_at, expires_at = (utc(starts_at) if starts_at else None), (utc(expires_at) if expires_at else None)
    now = p.clock.now()
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        if product:
            if meter or quantity is not None or expires_at or starts_at or model or site or unit != "units":
                raise ValidationError("a sale of a product takes the product's terms; leave out meter, quantity, "
                                      "unit, model, site, starts_at and expires_at (or sell a custom package: no "
                                      "product)", field="product")
            prod = store.get_product(s, product, for_update=True)
            total = (prod.unit_price(count) if each is None else each) * count
            pkg = _from_product(prod, who.account_id, count, now, total, sold_by=actor.name, reason=reason)
            name = prod.name
        else:
            if not meter or quantity is None or expires_at is None or each is None:
                raise ValidationError("a custom package needs meter, quantity, expires_at and price (or name a "
                                      "product)", field="product")
            _check_scope(p, s, model, site)
            start = starts_at or now
            if expires_at <= now:
                raise ValidationError(f"expires_at {expires_at.isoformat()} is not in the future", field="expires_at")
            if start < now:
                raise ValidationError("starts_at may not be in the past: a package never covers usage before it "
                                      "was sold", field="starts_at")
            pkg = Package("pk_" + secrets.token_hex(6), who.account_id, _meter(meter),
                          check_amount(quantity, "quantity") * count, start, expires_at, model, unit, each * count,
                          site=site, count=count, sold_by=actor.name, reason=reason,
                          created_at=now)
            name = ""
        store.add_package(s, pkg)
    return package_doc(pkg, who.name, name)


def package_doc(pkg: Package, tenant: str, product_name: str = "") -> dict[str, Any]:
    return {"id": pkg.id, "tenant": tenant, "product": pkg.product, "product_name": product_name,
            "meter": pkg.meter.value, "model": pkg.model, "site": pkg.site, "unit": pkg.unit, "count": pkg.count,
            "quantity": pkg.quantity, "used": pkg.used, "left": pkg.left, "price": pkg.price,
            "list_price": pkg.list_price, "sold_by": pkg.sold_by, "reason": pkg.reason, "starts_at": pkg.starts_at,
            "expires_at": pkg.expires_at}


def list_packages(p: Platform, actor: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
    """Packages with what is drawn on issued invoices so far (a tenant's own; the operator's: all, or
    one named tenant's)."""
    grant = authorize(actor, Action.READ_PACKAGES)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant) if (tenant or grant.tenant_id) else None
        pkgs = store.packages_for(s, who.account_id if who else None)
        names = {x.id: x.name for x in store.list_products(s, include_retired=True)}
    return [package_doc(x, who.name if who else x.tenant, names.get(x.product, "")) for x in pkgs]

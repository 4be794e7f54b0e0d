"""Prepaid packages: bundles of device-hours, P-hours or tokens with an expiry. The price is
billed on the invoice of the month the package starts; draws happen as invoices are rated."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.errors import ValidationError
from suanli.ledger.meters import parse_meter
from suanli.ledger.packages import Package
from suanli.service.billing import resolve_tenant
from suanli.service.platform import Platform
from suanli.store import billing as store
from suanli.store.money_tables import PackageRow


def create_package(p: Platform, actor: Principal, *, tenant: str | None, meter: str, quantity: Decimal,
                   expires_at: datetime, price: Decimal, model: str = "", unit: str = "units",
                   starts_at: datetime | None = None) -> dict[str, Any]:
    """A tenant buys a package (or the operator sells one to a named tenant)."""
    grant = authorize(actor, Action.BUY_PACKAGE)
    now = p.clock.now()
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        if model and model not in {m.name for m in p.catalog(s)}:
            raise ValidationError(f"unknown model {model!r}", field="model")
        pkg = Package("pk_" + secrets.token_hex(6), who.account_id, parse_meter(meter), quantity, starts_at or now,
                      expires_at, model, unit, price)
        store.add_package(s, PackageRow(id=pkg.id, tenant_id=pkg.tenant, meter=pkg.meter.value, model=pkg.model,
                                        unit=pkg.unit, quantity=pkg.quantity, price=pkg.price,
                                        starts_at=pkg.starts_at, expires_at=pkg.expires_at, created_at=now))
    return _doc(pkg, who.name, Decimal(0))


def _doc(pkg: Package, tenant: str, used: Decimal) -> dict[str, Any]:
    return {"id": pkg.id, "tenant": tenant, "meter": pkg.meter.value, "model": pkg.model, "unit": pkg.unit,
            "quantity": pkg.quantity, "used": used, "left": pkg.quantity - used, "price": pkg.price,
            "starts_at": pkg.starts_at, "expires_at": pkg.expires_at}


def list_packages(p: Platform, actor: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
    """Packages with what is drawn on issued invoices so far (a tenant's own; the operator's: all, or
    one named tenant's)."""
    grant = authorize(actor, Action.READ_PACKAGES)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant) if (tenant or grant.tenant_id) else None
        rows = store.packages_for(s, who.account_id if who else None)
        used = store.package_used(s, [r.id for r in rows])
    name = who.name if who else ""
    return [_doc(Package(r.id, r.tenant_id, parse_meter(r.meter), r.quantity, r.starts_at, r.expires_at, r.model,
                         r.unit, r.price), name or r.tenant_id, used[r.id]) for r in rows]

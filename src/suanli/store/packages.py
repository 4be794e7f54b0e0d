"""Package products and packages: domain objects in, domain objects out (:mod:`suanli.domain.packages`).

What a package has drawn so far (``used``) is the sum of its draws on invoices that are not void.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.invoices import InvoiceStatus
from suanli.domain.meters import Meter
from suanli.domain.packages import Package, PackageProduct, PackageUnit, ProductState, VolumeTier
from suanli.errors import ConflictError, NotFoundError
from suanli.store.money_tables import InvoiceRow, PackageDrawRow, PackageProductRow, PackageRow

# -- products -------------------------------------------------------------------------------------


def _product(r: PackageProductRow) -> PackageProduct:
    return PackageProduct(
        r.id, r.name, Meter(r.meter), r.quantity, r.price, PackageUnit(r.unit), r.model, r.site, r.valid_days,
        r.valid_from, r.valid_to, tuple(VolumeTier(int(t["min_count"]), Decimal(t["price"])) for t in r.tiers),
        ProductState(r.state), r.created_at, r.created_by, r.updated_at)


def _tiers(p: PackageProduct) -> list[dict[str, object]]:
    return [{"min_count": t.min_count, "price": str(t.price)} for t in p.tiers]


def add_product(s: Session, p: PackageProduct) -> PackageProduct:
    """Insert a product; a name already taken is a ConflictError (the unique key decides)."""
    assert p.created_at is not None
    row = PackageProductRow(id=p.id, name=p.name, meter=p.meter.value, model=p.model, site=p.site, unit=p.unit.value,
                            quantity=p.quantity, price=p.price, tiers=_tiers(p), valid_days=p.valid_days,
                            valid_from=p.valid_from, valid_to=p.valid_to, state=p.state.value,
                            created_at=p.created_at, created_by=p.created_by, updated_at=p.updated_at or p.created_at)
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise ConflictError(f"a package product named {p.name!r} exists already; choose another name",
                            name=p.name) from None
    return _product(row)


def _product_row(s: Session, key: str, *, for_update: bool = False) -> PackageProductRow:
    q = select(PackageProductRow).where((PackageProductRow.id == key) | (PackageProductRow.name == key))
    if for_update:
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(f"no package product {key!r} (give its id or name; `suanli package product list`)",
                            product=key)
    return row


def get_product(s: Session, key: str, *, for_update: bool = False) -> PackageProduct:
    """A product by id or name (404 if none)."""
    return _product(_product_row(s, key, for_update=for_update))


def list_products(s: Session, *, include_retired: bool = False) -> list[PackageProduct]:
    q = select(PackageProductRow).order_by(PackageProductRow.name)
    if not include_retired:
        q = q.where(PackageProductRow.state == ProductState.ACTIVE.value)
    return [_product(r) for r in s.scalars(q)]


def save_product(s: Session, p: PackageProduct) -> PackageProduct:
    """Write a product's price, tiers and state (the rest of a product never changes)."""
    row = _product_row(s, p.id, for_update=True)
    row.price, row.tiers, row.state, row.updated_at = p.price, _tiers(p), p.state.value, p.updated_at or row.updated_at
    s.flush()
    return _product(row)


# -- packages -------------------------------------------------------------------------------------


def _package(r: PackageRow, used: Decimal) -> Package:
    return Package(r.id, r.tenant_id, Meter(r.meter), r.quantity, r.starts_at, r.expires_at, r.model, r.unit, r.price,
                   used, r.site, r.product_id or "", r.count, r.list_price, r.sold_by, r.reason, r.created_at)


def add_package(s: Session, pkg: Package) -> Package:
    assert pkg.created_at is not None
    s.add(PackageRow(id=pkg.id, tenant_id=pkg.tenant, meter=pkg.meter.value, model=pkg.model, unit=pkg.unit,
                     quantity=pkg.quantity, price=pkg.price, starts_at=pkg.starts_at, expires_at=pkg.expires_at,
                     created_at=pkg.created_at, site=pkg.site, product_id=pkg.product or None, count=pkg.count,
                     list_price=pkg.list_price, sold_by=pkg.sold_by, reason=pkg.reason))
    s.flush()
    return pkg


def _used(s: Session, package_ids: Sequence[str]) -> dict[str, Decimal]:
    """Drawn on live (not void) invoices."""
    out: dict[str, Decimal] = {p: Decimal(0) for p in package_ids}
    q = (select(PackageDrawRow.package_id, PackageDrawRow.quantity)
         .join(InvoiceRow, InvoiceRow.id == PackageDrawRow.invoice_id)
         .where(PackageDrawRow.package_id.in_(list(package_ids)), InvoiceRow.status != InvoiceStatus.VOID.value))
    for pid, qty in s.execute(q):
        out[pid] += qty
    return out


def packages_for(s: Session, tenant_id: str | None) -> list[Package]:
    """The tenant's packages (everyone's for ``None``), earliest expiry first, with what issued invoices drew."""
    q = select(PackageRow).order_by(PackageRow.expires_at, PackageRow.id)
    if tenant_id is not None:
        q = q.where(PackageRow.tenant_id == tenant_id)
    rows = list(s.scalars(q))
    used = _used(s, [r.id for r in rows])
    return [_package(r, used[r.id]) for r in rows]


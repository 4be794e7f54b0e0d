"""Package products through the service layer, on SQLite and PostgreSQL: the operator defines and prices
products, a tenant buys at the listed price (tiers applied), a price change never reaches what was
bought, a sale at another price needs a reason and records it, a site-scoped package covers usage at
its site only, and every bad input is refused with nothing written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.errors import ConflictError, NotFoundError, PermissionDeniedError, SuanliError, ValidationError
from suanli.service import billing, leases, orders, packages
from suanli.service.platform import Platform
from suanli.store.money_tables import PackageProductRow, PackageRow
from suanli.testing.clock import FakeClock

DEC1 = datetime(2026, 12, 1, tzinfo=UTC)


def _counts(p: Platform) -> tuple[int, int]:
    with p.tx() as s:
        return (s.scalar(select(func.count()).select_from(PackageProductRow)) or 0,
                s.scalar(select(func.count()).select_from(PackageRow)) or 0)


def _product(p: Platform, op: Principal, **kw: Any) -> Any:
    args: dict[str, Any] = {"name": "L20 10 h", "meter": "device_seconds", "model": "L20", "quantity": Decimal(10),
                            "price": Decimal("25.00"), "valid_days": 30}
    return packages.create_product(p, op, **(args | kw))


def test_a_tenant_buys_at_the_listed_price_with_the_volume_tier(demo: Platform, operator: Principal,
                                                                 tenant: Principal) -> None:
    prod = _product(demo, operator, tiers=[(10, Decimal("22.50")), (50, Decimal("20"))])
    assert [(t.min_count, t.price) for t in prod.tiers] == [(10, Decimal("22.50")), (50, Decimal("20"))]
    few = packages.buy_package(demo, tenant, "L20 10 h", 3)
    many = packages.buy_package(demo, tenant, prod.id, 12)
    most = packages.buy_package(demo, tenant, prod.id, 50)
    assert (few["price"], many["price"], most["price"]) == (Decimal("75.00"), Decimal("270.00"), Decimal("1000"))
    assert many["quantity"] == 120 and many["count"] == 12 and many["product"] == prod.id
    assert all(x["list_price"] is None and x["sold_by"] == "" and x["reason"] == "" for x in (few, many, most))
    assert few["expires_at"] - few["starts_at"] == timedelta(days=30)


def test_a_price_change_applies_to_new_purchases_only(demo: Platform, operator: Principal, tenant: Principal,
                                                      clock: FakeClock) -> None:
    _product(demo, operator)
    before = packages.buy_package(demo, tenant, "L20 10 h")
    clock.advance(hours=1)
    changed = packages.set_product_price(demo, operator, "L20 10 h", Decimal("30"))
    assert changed.price == 30 and changed.updated_at == clock.now()
    after = packages.buy_package(demo, tenant, "L20 10 h")
    assert (before["price"], after["price"]) == (Decimal("25.00"), Decimal("30"))
    held = {x["id"]: x["price"] for x in packages.list_packages(demo, tenant)}
    assert held == {before["id"]: Decimal("25.00"), after["id"]: Decimal("30")}
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    fees = sorted(x["amount"] for x in doc["lines"] if x["kind"] == "package_fee")
    assert fees == [Decimal("25.00"), Decimal("30.00")]


def test_a_tier_above_a_new_price_must_be_restated(demo: Platform, operator: Principal) -> None:
    _product(demo, operator, tiers=[(10, Decimal("22"))])
    with pytest.raises(ValidationError, match="give the new tiers with the new price"):
        packages.set_product_price(demo, operator, "L20 10 h", Decimal("20"))
    prod = packages.set_product_price(demo, operator, "L20 10 h", Decimal("20"), [(10, Decimal("18"))])
    assert prod.price == 20 and prod.tiers[0].price == 18


def test_a_retired_product_is_not_sold_but_what_was_bought_still_draws(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _product(demo, operator, quantity=Decimal(5))
    pkg = packages.buy_package(demo, tenant, "L20 10 h")
    packages.retire_product(demo, operator, "L20 10 h")
    assert packages.list_products(demo, tenant) == []
    assert [x.state.value for x in packages.list_products(demo, operator, include_retired=True)] == ["retired"]
    with pytest.raises(ConflictError, match="retired"):
        packages.buy_package(demo, tenant, "L20 10 h")
    lease = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]}).order.lease_id
    clock.advance(hours=2)
    leases.end_lease(demo, tenant, lease or "")
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert sum(x["quantity"] for x in doc["lines"] if x["kind"] == "package_covered" and x["package"] == pkg["id"]) == 2


def test_an_operator_sale_at_another_price_needs_a_reason_and_records_it(demo: Platform, operator: Principal,
                                                                         tenant: Principal) -> None:
    _product(demo, operator, tiers=[(10, Decimal("22.50"))])
    with pytest.raises(ValidationError, match="needs a reason"):
        packages.sell_package(demo, operator, tenant="acme", product="L20 10 h", price=Decimal("10"), reason="  ")
    assert _counts(demo) == (1, 0)
    sold = packages.sell_package(demo, operator, tenant="acme", product="L20 10 h", count=10, price=Decimal("20"),
                                 reason="launch discount agreed with acme")
    assert sold["price"] == Decimal("200") and sold["list_price"] == Decimal("225.00")
    assert sold["sold_by"] == operator.name and sold["reason"] == "launch discount agreed with acme"
    custom = packages.sell_package(demo, operator, tenant="acme", reason="pilot bundle", meter="inference_input_tokens",
                                   quantity=Decimal(50), price=Decimal("60"),
                                   expires_at=demo.clock.now() + timedelta(days=90))
    assert custom["product"] == "" and custom["quantity"] == 50 and custom["sold_by"] == operator.name
    seen = {x["id"]: (x["sold_by"], x["reason"]) for x in packages.list_packages(demo, tenant)}
    assert seen[sold["id"]] == (operator.name, "launch discount agreed with acme")


def test_who_may_do_what(demo: Platform, operator: Principal, tenant: Principal) -> None:
    _product(demo, operator)
    with pytest.raises(PermissionDeniedError):
        _product(demo, tenant, name="mine")
    with pytest.raises(PermissionDeniedError):
        packages.set_product_price(demo, tenant, "L20 10 h", Decimal("0.01"))
    with pytest.raises(PermissionDeniedError):
        packages.sell_package(demo, tenant, tenant="acme", product="L20 10 h", price=Decimal("0.01"), reason="me")
    with pytest.raises(PermissionDeniedError, match="sells a package to a tenant"):
        packages.buy_package(demo, operator, "L20 10 h")
    assert _counts(demo) == (1, 0)


def test_a_site_scoped_package_covers_usage_at_its_site_only(demo: Platform, operator: Principal,
                                                              tenant: Principal, clock: FakeClock) -> None:
    # the demo's L20 nodes are at sz-edge-1
    _product(demo, operator, name="L20 at sh", site="sh-east-1")
    _product(demo, operator, name="L20 at sz", site="sz-edge-1", quantity=Decimal(1))
    sh = packages.buy_package(demo, tenant, "L20 at sh")
    sz = packages.buy_package(demo, tenant, "L20 at sz")
    lease = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]}).order.lease_id
    clock.advance(hours=3)
    leases.end_lease(demo, tenant, lease or "")
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    covered = [x for x in doc["lines"] if x["kind"] == "package_covered"]
    assert {x["package"] for x in covered} == {sz["id"]} and sum(x["quantity"] for x in covered) == 1
    assert sum(x["quantity"] for x in doc["lines"] if x["kind"] == "usage") == 2
    left = {x["id"]: x["left"] for x in packages.list_packages(demo, tenant)}
    assert left == {sh["id"]: 10, sz["id"]: 0}


BAD_PRODUCTS: list[tuple[dict[str, Any], str]] = [
    ({"price": Decimal("-1")}, "price must be > 0"),
    ({"price": Decimal(0)}, "price must be > 0"),
    ({"price": Decimal("1e10")}, "above the largest allowed"),
    ({"price": Decimal("0.0000001")}, "decimal places"),
    ({"price": 0.01}, "not a float"),
    ({"quantity": Decimal(0)}, "quantity must be > 0"),
    ({"quantity": Decimal("-5")}, "quantity must be > 0"),
    ({"quantity": Decimal("1e12")}, "above the largest allowed"),
    ({"quantity": 1.5}, "not a float"),
    ({"meter": "gpu_minutes"}, "unknown meter"),
    ({"meter": "job_device_seconds"}, "informational"),
    ({"model": "Z9000"}, "unknown model"),
    ({"site": "moon-base-1"}, "unknown site"),
    ({"unit": "hours"}, "allowed: units, p_hours"),
    ({"unit": "p_hours", "meter": "egress_gb", "model": ""}, "p_hours packages draw device_seconds only"),
    ({"valid_days": None}, "either as valid_days"),
    ({"valid_from": datetime(2026, 12, 1, tzinfo=UTC), "valid_to": datetime(2027, 1, 1, tzinfo=UTC)},
     "either as valid_days"),
    ({"valid_days": 0}, "valid_days must be"),
    ({"valid_days": 100_000}, "valid_days must be"),
    ({"valid_days": None, "valid_from": datetime(2026, 10, 1, tzinfo=UTC), "valid_to": datetime(2026, 11, 1,
                                                                                               tzinfo=UTC)},
     "not in the future"),
    ({"valid_days": None, "valid_from": datetime(2027, 1, 1, tzinfo=UTC), "valid_to": datetime(2026, 12, 1,
                                                                                              tzinfo=UTC)},
     "valid_to must be after valid_from"),
    ({"tiers": [(10, Decimal("30"))]}, "each tier's price <= the price before it"),
    ({"tiers": [(1, Decimal("20"))]}, "min_count must be a whole number from 2"),
    ({"tiers": [(10, Decimal("20")), (10, Decimal("19"))]}, "one price per min_count"),
    ({"tiers": [(10, Decimal("-1"))]}, "must be > 0"),
    ({"name": "  "}, "needs a name"),
]


@pytest.mark.parametrize(("change", "message"), BAD_PRODUCTS, ids=[m for _, m in BAD_PRODUCTS])
def test_a_bad_product_is_refused_with_nothing_written(demo: Platform, operator: Principal,
                                                       change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _product(demo, operator, **change)
    assert _counts(demo) == (0, 0)


def test_a_second_product_of_the_same_name_is_a_conflict(demo: Platform, operator: Principal) -> None:
    _product(demo, operator)
    with pytest.raises(ConflictError, match="exists already"):
        _product(demo, operator, price=Decimal(1))
    assert _counts(demo) == (1, 0)


BAD_BUYS: list[tuple[Callable[[Platform, Principal, Principal], Any], type[SuanliError], str]] = [
    (lambda p, op, t: packages.buy_package(p, t, "L20 10 h", 0), ValidationError, "count must be from 1"),
    (lambda p, op, t: packages.buy_package(p, t, "L20 10 h", 10_001), ValidationError, "count must be from 1"),
    (lambda p, op, t: packages.buy_package(p, t, "L20 10 h", True), ValidationError, "whole number"),
    (lambda p, op, t: packages.buy_package(p, t, "no such thing"), NotFoundError, "no package product"),
    (lambda p, op, t: packages.sell_package(p, op, tenant="acme", product="L20 10 h", price=Decimal("-3"),
                                            reason="x"), ValidationError, "price must be > 0"),
    (lambda p, op, t: packages.sell_package(p, op, tenant="acme", product="L20 10 h", quantity=Decimal(3),
                                            reason="x"), ValidationError, "takes the product's terms"),
    (lambda p, op, t: packages.sell_package(p, op, tenant="acme", meter="device_seconds", quantity=Decimal(3),
                                            reason="x", price=Decimal(1)), ValidationError, "needs meter, quantity"),
    (lambda p, op, t: packages.sell_package(p, op, tenant="acme", meter="device_seconds", quantity=Decimal(3),
                                            reason="x", price=Decimal(1), expires_at=p.clock.now()),
     ValidationError, "not in the future"),
    (lambda p, op, t: packages.sell_package(p, op, tenant="acme", meter="device_seconds", quantity=Decimal(3),
                                            reason="x", price=Decimal(1), starts_at=p.clock.now() - timedelta(days=1),
                                            expires_at=p.clock.now() + timedelta(days=1)),
     ValidationError, "starts_at may not be in the past"),
    (lambda p, op, t: packages.sell_package(p, op, tenant="nobody", product="L20 10 h", reason="x"),
     NotFoundError, "nobody"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_BUYS, ids=[m for _, _, m in BAD_BUYS])
def test_a_bad_purchase_or_sale_is_refused_with_nothing_written(
        demo: Platform, operator: Principal, tenant: Principal,
        call: Callable[[Platform, Principal, Principal], Any], error: type[SuanliError], message: str) -> None:
    _product(demo, operator)
    with pytest.raises(error, match=message):
        call(demo, operator, tenant)
    assert _counts(demo) == (1, 0)


def test_a_product_with_fixed_dates_ends_and_never_covers_before_its_purchase(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    _product(demo, operator, valid_days=None, valid_from=start, valid_to=end)
    pkg = packages.buy_package(demo, tenant, "L20 10 h")
    assert (pkg["starts_at"], pkg["expires_at"]) == (clock.now(), end)  # bought on Nov 23: from then on
    clock.set(end)
    with pytest.raises(ConflictError, match="can no longer be bought"):
        packages.buy_package(demo, tenant, "L20 10 h")
    assert _counts(demo) == (1, 1)

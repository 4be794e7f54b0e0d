"""Custom shapes are billed per second at the resource prices, beside device time: the quote and the
invoice lines of a shaped L20 and of a CPU-only instance, exact to the cent against a hand computation
(docs/billing.md "Resource prices"). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.errors import PermissionDeniedError, ValidationError
from suanli.service import billing, leases, orders, shapes
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

PRICES = {"cpu_core_hour": "0.12", "ram_gib_hour": "0.03", "nic_gbps_hour": "0.50", "disk_gib_month": "0.35"}


@pytest.fixture
def priced(demo: Platform, operator: Principal) -> Platform:
    for resource, amount in PRICES.items():
        shapes.set_resource_price(demo, operator, resource, Decimal(amount))
    return demo


def lines(d: billing.Draft, lease: str) -> dict[str, Decimal]:
    return {x.meter if x.model == "" else x.model: x.amount for x in d.rated.lines if x.lease == lease}


def test_a_4_core_16_gib_l20_costs_the_l20_alone(priced: Platform, tenant: Principal, clock: FakeClock) -> None:
    """4 cores and 16 GiB are within one L20's share (8 cores, 64 GiB): nothing extra to pay."""
    res = orders.create_order(priced, tenant, {"form": "gpu", "models": ["L20"], "cpu_cores": 4, "ram_gib": 16,
                                               "hours": 10})
    assert res.quote is not None
    assert [(ln.model, ln.term_total) for ln in res.quote.lines] == [("L20", Decimal("26.00"))]  # 2.60 x 10 h
    clock.advance(hours=11)
    draft = billing.preview(priced, tenant, "2026-11")
    assert lines(draft, res.order.lease_id or "") == {"L20": Decimal("26.00")}


def test_a_shape_beyond_the_share_pays_its_extras(priced: Platform, tenant: Principal, clock: FakeClock) -> None:
    """16 cores, 128 GiB, 1000 GiB disk with one L20 for 10 h: the share is 8 cores, 64 GiB, 894 GiB
    (7680 GB = 7152 GiB over 8 devices). Extras: 8 cores x 0.12 x 10 = 9.60; 64 GiB x 0.03 x 10 = 19.20;
    106 GiB x 0.35 x 10 / 730 = 0.5082... -> 0.51. The L20: 2.60 x 10 = 26.00."""
    res = orders.create_order(priced, tenant, {"form": "gpu", "models": ["L20"], "cpu_cores": 16, "ram_gib": 128,
                                               "disk_gib": 1000, "hours": 10})
    assert res.quote is not None
    quoted = {ln.model: ln.term_total for ln in res.quote.lines}
    expected = {"L20": Decimal("26.00"), "cpu_core_hour": Decimal("9.60"), "ram_gib_hour": Decimal("19.20"),
                "disk_gib_month": Decimal("0.51")}
    assert quoted == expected
    cpu_line = next(ln for ln in res.quote.lines if ln.model == "cpu_core_hour")
    assert (cpu_line.basis.value, cpu_line.devices, cpu_line.hourly) == ("resource", Decimal(8), Decimal("0.96"))
    assert res.quote.term_total == Decimal("55.31")
    clock.advance(hours=5)  # half-way: billed to date, per second
    half = lines(billing.preview(priced, tenant, "2026-11"), res.order.lease_id or "")
    assert half["cpu_core_hour"] == Decimal("4.80") and half["ram_gib_hour"] == Decimal("9.60")
    clock.advance(hours=6)
    assert lines(billing.preview(priced, tenant, "2026-11"), res.order.lease_id or "") == expected


def test_a_cpu_instance_pays_for_all_it_holds(priced: Platform, tenant: Principal, clock: FakeClock) -> None:
    """4 cores and 16 GiB without a device for 90 minutes: 4 x 0.12 x 1.5 = 0.72 and 16 x 0.03 x 1.5 = 0.72."""
    res = orders.create_order(priced, tenant, {"form": "cpu", "cpu_cores": 4, "ram_gib": 16})
    lid = res.order.lease_id or ""
    clock.advance(minutes=90)
    leases.end_lease(priced, tenant, lid)
    clock.advance(hours=3)  # ended: nothing more
    got = {x.meter: (x.quantity, x.unit_price, x.amount, x.price_unit) for x in
           billing.preview(priced, tenant, "2026-11").rated.lines if x.lease == lid}
    assert got == {"cpu_core_hour": (Decimal(6), Decimal("0.12"), Decimal("0.72"), "core-hour"),
                   "ram_gib_hour": (Decimal(24), Decimal("0.03"), Decimal("0.72"), "GiB-hour")}


def test_a_price_change_applies_from_its_instant_never_before(priced: Platform, operator: Principal,
                                                              tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(priced, tenant, {"form": "cpu", "cpu_cores": 10, "ram_gib": 1})
    lid = res.order.lease_id or ""
    with pytest.raises(ValidationError, match="in the past"):
        shapes.set_resource_price(priced, operator, "cpu_core_hour", Decimal("1"),
                                  effective_from=clock.now() - timedelta(minutes=1))
    shapes.set_resource_price(priced, operator, "cpu_core_hour", Decimal("0.24"),
                              effective_from=clock.now() + timedelta(hours=1))
    clock.advance(hours=2)
    cpu = sorted((x.unit_price, x.amount) for x in billing.preview(priced, tenant, "2026-11").rated.lines
                 if x.lease == lid and x.meter == "cpu_core_hour")
    assert cpu == [(Decimal("0.12"), Decimal("1.20")), (Decimal("0.24"), Decimal("2.40"))]


def test_only_the_operator_sets_resource_prices(priced: Platform, tenant: Principal, operator: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        shapes.set_resource_price(priced, tenant, "cpu_core_hour", Decimal("0.01"))
    with pytest.raises(ValidationError, match="allowed: cpu_core_hour, ram_gib_hour"):
        shapes.set_resource_price(priced, operator, "gpu_hour", Decimal("1"))
    with pytest.raises(ValidationError):
        shapes.set_resource_price(priced, operator, "cpu_core_hour", Decimal("-1"))
    listed = shapes.list_resource_prices(priced, tenant)  # everyone may read list prices
    assert {x["resource"] for x in listed} == set(PRICES)

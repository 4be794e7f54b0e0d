from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from suanli.domain.accounts import Principal
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import accounts, fleet, invoices, leases, orders, prices
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock as Clock
from suanli.testing.factories import make_tenant

H800_P = Decimal("0.9894")


def test_invoice_line_is_seconds_times_hourly_price(demo: Platform, tenant: Principal, clock: Clock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.advance(37)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.advance(3600)  # later reads never bill past the end
    inv = invoices.invoice(demo, tenant, "2026-11")
    (line,) = inv.lines
    hourly = 2 * (Decimal(90000) * H800_P / 8760)  # demo H800 price: 90,000 元/P/年
    assert line.seconds == 37 and line.unit_price == hourly
    assert line.amount == (37 * hourly / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert inv.total == line.amount
    assert line.supplier_share + line.commission == line.amount


def test_lease_across_the_2023_price_change_is_billed_piecewise(db_url: str | None, tmp_path: Path) -> None:
    clock = Clock(datetime(2023, 10, 30, 12, tzinfo=UTC))
    platform = Platform(Settings(data_dir=tmp_path / "d2023", database_url=db_url, driver="none"), clock=clock)
    operator = accounts.authenticate(platform, accounts.bootstrap_operator(platform) or "")
    doc = {
        "sites": [{"name": "sh", "region": "cn-east", "tier": "cloud", "pue": "1.3", "power_price_kwh": "0.8"}],
        "suppliers": [{"name": "s1"}],
        "nodes": [{"name": "n1", "site": "sh", "supplier": "s1", "cpu_cores": 128, "memory_gib": 2048,
                   "fabric": "f", "devices": {"model": "H800", "count": 8}}],
        "prices": [{"model": "H800", "unit": "p_year", "amount": "120000", "effective_from": "2023-09-01T00:00:00Z"}],
    }
    fleet.import_fleet(platform, operator, doc)
    prices.set_price(platform, operator, "H800", Decimal(180000), "p_year",
                     effective_from=datetime(2023, 11, 1, tzinfo=UTC))
    who = make_tenant(platform, operator, "buyer")
    res = orders.create_order(platform, who, {"form": "gpu", "quantity": 8})
    clock.set(datetime(2023, 11, 2, 12, tzinfo=UTC))
    leases.end_lease(platform, who, res.order.lease_id or "")
    october = invoices.invoice(platform, who, "2023-10")
    november = invoices.invoice(platform, who, "2023-11")
    (oct_line,) = october.lines
    (nov_line,) = november.lines
    assert oct_line.seconds == 36 * 3600 and nov_line.seconds == 36 * 3600
    assert oct_line.unit_price == 8 * (Decimal(120000) * H800_P / 8760)
    assert nov_line.unit_price == 8 * (Decimal(180000) * H800_P / 8760)
    # 8 H800 x 36 h at 120k and 180k 元/P/年
    assert oct_line.amount == Decimal("3903.39") and nov_line.amount == Decimal("5855.08")


def test_slices_are_priced_by_their_share(demo: Platform, tenant: Principal, clock: Clock) -> None:
    res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 25, "memory_mib": 4096, "models": ["L20"]})
    clock.advance(hours=2)
    (line,) = invoices.invoice(demo, tenant, "2026-11").lines
    assert line.devices == Decimal("0.25") and line.unit_price == Decimal("0.65")  # 2.60 元/h x 1/4
    assert line.amount == Decimal("1.30")
    leases.end_lease(demo, tenant, res.order.lease_id or "")


def test_supplier_revenue_plus_commission_adds_up_to_tenant_invoices(demo: Platform, operator: Principal,
                                                                     clock: Clock) -> None:
    a, b = make_tenant(demo, operator, "a"), make_tenant(demo, operator, "b")
    orders.create_order(demo, a, {"form": "gpu", "quantity": 3, "models": ["H800"]})
    orders.create_order(demo, b, {"form": "gpu", "quantity": 4, "models": ["RTX-4090"]})
    orders.create_order(demo, b, {"form": "server", "models": ["Ascend-910B"]})
    clock.advance(hours=5, seconds=17)
    inv = [invoices.invoice(demo, operator, "2026-11", t) for t in ("a", "b")]
    total = sum((i.total for i in inv), Decimal(0))
    revenue = [invoices.supplier_revenue(demo, operator, "2026-11", s) for s in ("huadong-idc", "xibu-compute")]
    assert sum((r["gross"] for r in revenue), Decimal(0)) == total
    assert sum((r["supplier_share"] + r["commission"] for r in revenue), Decimal(0)) == total
    # 85% of the H800's 10.17/h (8.64) is above the 7.00 floor: the supplier gets 85% of the line
    east = revenue[0]
    assert east["lines"] == 1
    assert east["supplier_share"] == (east["gross"] * Decimal("0.85")).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_invoice_visibility(demo: Platform, tenant: Principal, operator: Principal) -> None:
    other = make_tenant(demo, operator, "beta")
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1})
    assert invoices.invoice(demo, other, "2026-11").lines == ()
    with pytest.raises(NotFoundError):
        invoices.invoice(demo, other, "2026-11", tenant="acme")
    with pytest.raises(ValidationError, match="must be YYYY-MM"):
        invoices.invoice(demo, tenant, "November")
    sup, _ = accounts.create_account(demo, operator, "sup", "supplier", "huadong-idc")
    with pytest.raises(PermissionDeniedError):
        invoices.invoice(demo, sup, "2026-11")
    with pytest.raises(NotFoundError):
        invoices.supplier_revenue(demo, sup, "2026-11", "xibu-compute")


def test_price_set_shows_both_units(demo: Platform, operator: Principal, clock: Clock) -> None:
    row = prices.set_price(demo, operator, "H800", Decimal(180000), "p_year", effective_from=clock.now() + timedelta(days=1))
    assert row["device_hour"] == Decimal(180000) * H800_P / 8760 and row["p_year"] == 180000
    with pytest.raises(ValidationError, match="allowed: device_hour, p_year"):
        prices.set_price(demo, operator, "H800", Decimal(1), "per_minute")

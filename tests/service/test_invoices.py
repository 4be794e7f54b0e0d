"""A tenant's invoice for a month as ``suanli invoice show`` shows it: the draft the ledger rates
(:func:`suanli.service.billing.preview`), the same invoice that will be issued; and a supplier's
revenue (:func:`suanli.service.statements.supplier_statement`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from suanli.domain.accounts import Principal
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import accounts, billing, fleet, leases, orders, plans, prices, statements, vouchers
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock as Clock
from suanli.testing.factories import make_tenant

H800_P = Decimal("0.9894")
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_invoice_line_is_seconds_times_hourly_price(demo: Platform, tenant: Principal, clock: Clock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.advance(37)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.advance(3600)  # later reads never bill past the end
    draft = billing.preview(demo, tenant, "2026-11")
    (line,) = draft.rated.lines
    per_device_hour = Decimal(90000) * H800_P / 8760  # demo H800 price: 90,000 元/P/年
    hourly = 2 * per_device_hour
    assert (line.meter, line.model, line.lease, line.price_unit) == ("device_seconds", "H800",
                                                                      res.order.lease_id, "device-hour")
    assert line.quantity == Decimal(2 * 37) / 3600 and line.unit_price == per_device_hour  # 2 devices x 37 s
    assert line.amount == cents(37 * hourly / 3600) == Decimal("0.21")  # rounded once
    assert draft.settlement.subtotal == draft.settlement.total == draft.settlement.amount_due == line.amount
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
    october = billing.preview(platform, who, "2023-10")
    november = billing.preview(platform, who, "2023-11")
    (oct_line,) = october.rated.lines
    (nov_line,) = november.rated.lines
    assert oct_line.quantity == nov_line.quantity == 8 * 36  # device-hours: 8 H800 x 36 h in each month
    assert oct_line.unit_price == Decimal(120000) * H800_P / 8760
    assert nov_line.unit_price == Decimal(180000) * H800_P / 8760
    # 8 H800 x 36 h at 120k and 180k 元/P/年
    assert oct_line.amount == Decimal("3903.39") and nov_line.amount == Decimal("5855.08")
    assert october.settlement.total == Decimal("3903.39") and november.settlement.total == Decimal("5855.08")


def test_slices_are_priced_by_their_share(demo: Platform, tenant: Principal, clock: Clock) -> None:
    res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 25, "memory_mib": 4096, "models": ["L20"]})
    clock.advance(hours=2)
    (line,) = billing.preview(demo, tenant, "2026-11").rated.lines
    assert line.quantity == Decimal("0.5") and line.unit_price == Decimal("2.60")  # 1/4 device x 2 h at 2.60 元/h
    assert line.amount == Decimal("1.30")
    leases.end_lease(demo, tenant, res.order.lease_id or "")


def test_supplier_revenue_plus_commission_adds_up_to_tenant_invoices(demo: Platform, operator: Principal,
                                                                     clock: Clock) -> None:
    a, b = make_tenant(demo, operator, "a"), make_tenant(demo, operator, "b")
    orders.create_order(demo, a, {"form": "gpu", "quantity": 3, "models": ["H800"]})
    orders.create_order(demo, b, {"form": "gpu", "quantity": 4, "models": ["RTX-4090"]})
    orders.create_order(demo, b, {"form": "server", "models": ["Ascend-910B"]})
    clock.advance(hours=5, seconds=17)
    for who in (a, b):
        for lease in leases.list_leases(demo, who):
            leases.end_lease(demo, who, lease.id)
    drafts = [billing.preview(demo, operator, "2026-11", t) for t in ("a", "b")]
    total = sum((d.settlement.total for d in drafts), Decimal(0))
    assert total > 0
    clock.set(DEC1)
    issued = [billing.issue_invoice(demo, operator, t, "2026-11") for t in ("a", "b")]
    assert [x["total"] for x in issued] == [d.settlement.total for d in drafts]  # the draft is what is issued
    revenue = [statements.supplier_statement(demo, operator, s, "2026-11") for s in ("huadong-idc", "xibu-compute")]
    assert sum((r["gross"] for r in revenue), Decimal(0)) == total
    assert sum((r["supplier_share"] + r["commission"] for r in revenue), Decimal(0)) == total
    # 85% of the H800's 10.17/h (8.64) is above the 7.00 floor: the supplier gets 85% of the line
    east = revenue[0]
    assert len(east["lines"]) == 1
    assert east["supplier_share"] == cents(east["gross"] * Decimal("0.85"))


def test_invoice_show_is_the_invoice_that_will_be_issued_under_plans_and_vouchers(
        demo: Platform, operator: Principal, tenant: Principal, clock: Clock) -> None:
    # the simple path priced this at list price; the tenant pays 40 % less, and a voucher pays part
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "spot", "discount": "0.4", "paid": True,
                                       "effective_from": "2026-11-01T00:00:00Z"})
    vouchers.issue_voucher(demo, operator, tenant="acme", issuer="shanghai-city", percent=Decimal("0.3"),
                           cap=Decimal("5.00"), valid_from=datetime(2026, 11, 1, tzinfo=UTC),
                           valid_to=datetime(2027, 1, 1, tzinfo=UTC))
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.advance(hours=3, seconds=17)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    draft = billing.preview(demo, tenant, "2026-11")
    (line,) = draft.rated.lines
    list_hourly = 2 * Decimal(90000) * H800_P / 8760
    assert line.amount == cents((3 * 3600 + 17) * list_hourly * Decimal("0.6") / 3600) == Decimal("36.65")
    assert draft.settlement.vouchers == Decimal("5.00") and draft.settlement.amount_due == Decimal("31.65")
    clock.set(DEC1)
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert (issued["total"], issued["vouchers"], issued["amount_due"]) == (
        draft.settlement.total, draft.settlement.vouchers, draft.settlement.amount_due)
    assert [x["amount"] for x in issued["lines"]] == [line.amount]


def test_invoice_visibility(demo: Platform, tenant: Principal, operator: Principal, clock: Clock) -> None:
    other = make_tenant(demo, operator, "beta")
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1})
    clock.advance(hours=1)
    assert billing.preview(demo, tenant, "2026-11").rated.lines
    assert billing.preview(demo, other, "2026-11").rated.lines == []
    with pytest.raises(NotFoundError):
        billing.preview(demo, other, "2026-11", tenant="acme")
    with pytest.raises(ValidationError, match="must be YYYY-MM"):
        billing.preview(demo, tenant, "November")
    sup, _ = accounts.create_account(demo, operator, "sup", "supplier", "huadong-idc")
    with pytest.raises(PermissionDeniedError):
        billing.preview(demo, sup, "2026-11")
    with pytest.raises(NotFoundError):
        statements.supplier_statement(demo, sup, "xibu-compute", "2026-11")
    with pytest.raises(PermissionDeniedError):
        statements.supplier_statement(demo, tenant, "huadong-idc", "2026-11")
    with pytest.raises(ValidationError, match="must be YYYY-MM"):
        statements.supplier_statement(demo, sup, None, "November")


def test_price_set_shows_both_units(demo: Platform, operator: Principal, clock: Clock) -> None:
    row = prices.set_price(demo, operator, "H800", Decimal(180000), "p_year", effective_from=clock.now() + timedelta(days=1))
    assert row["device_hour"] == Decimal(180000) * H800_P / 8760 and row["p_year"] == 180000
    with pytest.raises(ValidationError, match="allowed: device_hour, p_year"):
        prices.set_price(demo, operator, "H800", Decimal(1), "per_minute")

"""Price integrity: a list price is effective now or later; the price in force at each second
applies (a change at 08:49:31 splits the line at 08:49:31); amounts have a documented range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.money import MAX_AMOUNT, round_line
from suanli.errors import ValidationError
from suanli.service import billing, leases, orders, prices
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H800_P = Decimal("0.9894")
DEMO_H800 = Decimal(90000) * H800_P / 8760  # the demo fleet's H800 list price, per device-hour


def _entries(p: Platform, operator: Principal) -> list[tuple[str, str | None, datetime]]:
    return [(e["model"], e["site"], e["effective_from"]) for e in prices.list_prices(p, operator)]


def test_a_back_dated_price_is_refused_and_nothing_is_written(demo: Platform, operator: Principal,
                                                               clock: FakeClock) -> None:
    before = _entries(demo, operator)
    for back in (timedelta(seconds=1), timedelta(days=1), timedelta(days=3000)):
        with pytest.raises(ValidationError) as e:
            prices.set_price(demo, operator, "A800", Decimal(9), "device_hour", effective_from=clock.now() - back)
        assert "is in the past" in e.value.message and "effective now or later" in e.value.message
        assert "price correction" in e.value.message and e.value.details["field"] == "effective_from"
    assert _entries(demo, operator) == before
    now_row = prices.set_price(demo, operator, "A800", Decimal(9), "device_hour")  # omitted = now
    assert now_row["effective_from"] == clock.now()
    later = prices.set_price(demo, operator, "A800", Decimal(10), "device_hour",
                             effective_from=clock.now() + timedelta(seconds=1))
    assert later["effective_from"] == clock.now() + timedelta(seconds=1)


def test_an_ended_lease_is_never_re_priced(demo: Platform, operator: Principal, tenant: Principal,
                                           clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    clock.advance(3600)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    before = billing.preview(demo, tenant, "2026-11").rated.total
    with pytest.raises(ValidationError):
        prices.set_price(demo, operator, "H800", Decimal(9), "device_hour", effective_from=datetime(2026, 11, 1,
                                                                                                   tzinfo=UTC))
    prices.set_price(demo, operator, "H800", Decimal(9), "device_hour")
    assert billing.preview(demo, tenant, "2026-11").rated.total == before == round_line(DEMO_H800)


@pytest.mark.parametrize(("amount", "says"), [
    (Decimal(0), "> 0"), (Decimal(-1), "> 0"), (Decimal("NaN"), "finite"), (Decimal("Infinity"), "finite"),
    (MAX_AMOUNT + 1, "largest"), (Decimal("1e30"), "largest"), (Decimal("0.0000001"), "decimal places"),
    (1.5, "float"),
])
def test_bad_list_prices_are_422s_that_say_what_is_allowed(demo: Platform, operator: Principal, amount: object,
                                                           says: str) -> None:
    before = _entries(demo, operator)
    with pytest.raises(ValidationError) as e:
        prices.set_price(demo, operator, "H800", amount, "device_hour")  # type: ignore[arg-type]
    assert says in e.value.message and "allowed" in e.value.message
    assert _entries(demo, operator) == before


def test_a_change_at_08_49_31_splits_the_line_at_08_49_31(demo: Platform, operator: Principal, tenant: Principal,
                                                          clock: FakeClock) -> None:
    change = datetime(2026, 11, 23, 8, 49, 31, tzinfo=UTC)
    prices.set_price(demo, operator, "H800", Decimal("9.5"), "device_hour", effective_from=change)
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})  # 08:00:00
    clock.set(datetime(2026, 11, 23, 10, 15, 7, tzinfo=UTC))
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    lines = sorted(billing.preview(demo, tenant, "2026-11").rated.lines, key=lambda x: x.start)
    before_s, after_s = 49 * 60 + 31, (10 * 3600 + 15 * 60 + 7) - (8 * 3600 + 49 * 60 + 31)
    assert [(x.unit_price, x.quantity) for x in lines] == [
        (DEMO_H800, Decimal(2 * before_s) / 3600), (Decimal("9.5"), Decimal(2 * after_s) / 3600)]
    assert lines[1].start == change  # the second line begins at the change, not at 09:00
    assert [x.amount for x in lines] == [round_line(DEMO_H800 * 2 * before_s / 3600),
                                         round_line(Decimal("9.5") * 2 * after_s / 3600)]
    # and the issued invoice says the same
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert sorted(x["amount"] for x in doc["lines"]) == sorted(x.amount for x in lines)


def test_a_fleet_file_cannot_back_date_a_price_either(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    from suanli.service import fleet

    before = _entries(demo, operator)
    doc = {"prices": [{"model": "H800", "unit": "device_hour", "amount": "9", "effective_from": "2026-11-01T00:00:00Z"}]}
    with pytest.raises(ValidationError, match=r"prices\[0\]: H800 effective .* is in the past"):
        fleet.import_fleet(demo, operator, doc)
    for bad, says in (("0", "> 0"), ("1e12", "largest"), ("-1", "> 0")):
        with pytest.raises(ValidationError, match=says):
            fleet.import_fleet(demo, operator, {"prices": [{"model": "H800", "unit": "device_hour", "amount": bad,
                                                            "effective_from": "2027-01-01T00:00:00Z"}]})
    assert _entries(demo, operator) == before
    # a model's first price may carry an earlier date: nothing was billed at any price before it
    fleet.import_fleet(demo, operator, {"prices": [{"model": "T4", "unit": "device_hour", "amount": "1.2",
                                                    "effective_from": "2026-01-01T00:00:00Z"}]})
    fleet.import_fleet(demo, operator, {"prices": [{"model": "H800", "unit": "device_hour", "amount": "9",
                                                    "effective_from": "2027-01-01T00:00:00Z"}]})
    assert len(_entries(demo, operator)) == len(before) + 2

"""Money amounts have a documented range (domain/money.check_amount: > 0, <= 10^9, <= 6 places; wallet
amounts in whole cents) and the largest allowed values never make a draft, an invoice, a wallet or the
offers fail: every derived sum stays inside the store's NUMERIC(38, 12), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.money import MAX_AMOUNT
from suanli.errors import ValidationError
from suanli.service import billing, fleet, offers, orders, plans, prices, wallets
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

BIG = str(MAX_AMOUNT)


def test_the_largest_allowed_amounts_rate_issue_and_show(demo: Platform, operator: Principal, tenant: Principal,
                                                          clock: FakeClock) -> None:
    prices.set_price(demo, operator, "H800", Decimal(BIG), "device_hour")
    prices.set_price(demo, operator, "L20", Decimal(BIG), "p_year")
    fleet.set_floor(demo, operator, "huadong-idc", "H800", Decimal(BIG))
    plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-11-23T08:00:00Z",
                                       "rates": [{"meter": "egress_gb", "price": BIG},
                                                 {"meter": "inference_input_tokens", "price": "0.000001"}]})
    other = make_tenant(demo, operator, "big-spender")
    for who in (tenant, other):
        orders.create_order(demo, who, {"form": "gpu", "quantity": 8, "models": ["H800"]})
    wallets.top_up(demo, operator, "acme", Decimal(BIG))
    wallets.grant_credit(demo, operator, "acme", Decimal(BIG), "largest credit")
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))  # 8 devices x 184 h at 10^9 per device-hour
    draft = billing.preview(demo, tenant, "2026-11")
    expected = Decimal(8 * (7 * 24 + 16)) * MAX_AMOUNT
    assert draft.rated.total == expected
    w = wallets.show_wallet(demo, operator, "acme")
    assert w["balance"] == MAX_AMOUNT and w["credits"] == MAX_AMOUNT
    rows = offers.offers(demo, tenant)
    assert any(o["price_device_hour"] == MAX_AMOUNT for o in rows if o["model"] == "H800")
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert doc["total"] == expected
    assert doc["amount_due"] == expected - 2 * MAX_AMOUNT
    billing.issue_invoice(demo, operator, "big-spender", "2026-11")
    check = billing.ledger_check(demo, operator)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []
    assert billing.month_invoice(demo, tenant, "2026-11")["total"] == expected


@pytest.mark.parametrize("amount", ["1000000000.01", "1e30", "0", "-5", "NaN", "Infinity", "0.001"])
def test_wallet_amounts_out_of_range_are_422s(demo: Platform, operator: Principal, tenant: Principal,
                                               amount: str) -> None:
    with pytest.raises(ValidationError, match="allowed"):
        wallets.top_up(demo, operator, "acme", Decimal(amount))
    with pytest.raises(ValidationError, match="allowed"):
        wallets.grant_credit(demo, operator, "acme", Decimal(amount), "r")
    assert wallets.show_wallet(demo, operator, "acme")["balance"] == 0


@pytest.mark.parametrize("amount", ["1000000001", "1e30", "0", "-5", "0.0000001"])
def test_floors_and_plan_rates_out_of_range_are_422s(demo: Platform, operator: Principal, amount: str) -> None:
    with pytest.raises(ValidationError, match="allowed"):
        fleet.set_floor(demo, operator, "huadong-idc", "H800", Decimal(amount))
    if amount not in ("0",):  # a plan rate of 0 is a free meter
        with pytest.raises(ValidationError, match="allowed"):
            plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg",
                                               "effective_from": "2027-01-01T00:00:00Z",
                                               "rates": [{"meter": "egress_gb", "price": amount}]})
        with pytest.raises(ValidationError, match="allowed"):
            plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg",
                                               "effective_from": "2027-01-01T00:00:00Z",
                                               "rates": [{"meter": "egress_gb",
                                                          "tiers": [{"up_to": "10", "price": amount}]}]})


@pytest.mark.parametrize("amount", ["0", "-1", "NaN", "Infinity", "0.001", "1e30"])
def test_credit_note_amounts_out_of_range_are_422s(demo: Platform, operator: Principal, tenant: Principal,
                                                    clock: FakeClock, amount: str) -> None:
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    with pytest.raises(ValidationError, match="allowed"):
        billing.credit_note(demo, operator, doc["id"], Decimal(amount), "goodwill")
    assert billing.invoice_doc(demo, operator, doc["id"])["credit_notes"] == []

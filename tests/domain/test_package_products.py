"""Package products: volume tiers, validity windows, and what a product may be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import RULES, Action
from suanli.domain.meters import Meter
from suanli.domain.packages import PackageProduct, ProductState, VolumeTier, check_count
from suanli.errors import ConflictError, ValidationError

T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)


def product(**kw: object) -> PackageProduct:
    args: dict[str, object] = {"id": "pp_1", "name": "L20 5 h", "meter": Meter.DEVICE_SECONDS,
                               "quantity": Decimal(5), "price": Decimal(10), "valid_days": 30}
    return PackageProduct(**(args | kw))  # type: ignore[arg-type]


tier_lists = st.lists(st.tuples(st.integers(2, 10_000), st.integers(1, 1000)), max_size=6,
                      unique_by=lambda t: t[0]).map(
    lambda ts: [VolumeTier(n, Decimal(p)) for n, p in zip(sorted(n for n, _ in ts),
                                                          sorted((p for _, p in ts), reverse=True), strict=True)])


@given(tier_lists, st.integers(1, 10_000), st.integers(1, 10_000))
def test_buying_more_never_costs_more_each(tiers: list[VolumeTier], a: int, b: int) -> None:
    p = product(price=Decimal(1000), tiers=tuple(tiers))
    lo, hi = sorted((a, b))
    assert p.unit_price(hi) <= p.unit_price(lo) <= p.price
    assert p.unit_price(lo) in {p.price} | {t.price for t in tiers}
    reached = [t for t in tiers if t.min_count <= lo]
    assert p.unit_price(lo) == (reached[-1].price if reached else p.price)


def test_the_tier_reached_prices_every_package_of_the_purchase() -> None:
    p = product(tiers=(VolumeTier(50, Decimal(8)), VolumeTier(10, Decimal(9))))
    assert [t.min_count for t in p.tiers] == [10, 50]
    assert (p.unit_price(1), p.unit_price(9), p.unit_price(10), p.unit_price(49), p.unit_price(50)) == (
        10, 10, 9, 9, 8)


def test_validity_from_the_purchase_or_fixed_dates() -> None:
    assert product().window(T0) == (T0, T0 + timedelta(days=30))
    fixed = product(valid_days=None, valid_from=T0 - timedelta(days=5), valid_to=T0 + timedelta(days=5))
    assert fixed.window(T0) == (T0, T0 + timedelta(days=5))  # never before the purchase
    assert fixed.window(T0 - timedelta(days=9))[0] == T0 - timedelta(days=5)  # bought early: from valid_from
    with pytest.raises(ConflictError, match="can no longer be bought"):
        fixed.window(T0 + timedelta(days=5))


def test_a_retired_product_cannot_be_bought() -> None:
    product().check_buyable()
    with pytest.raises(ConflictError, match="retired"):
        product(state=ProductState.RETIRED).check_buyable()


@pytest.mark.parametrize(("kw", "said"), [
    ({"meter": Meter.JOB_DEVICE_SECONDS}, "informational"),
    ({"unit": "p_hours", "meter": Meter.EGRESS_GB}, "device_seconds only"),
    ({"price": Decimal("0.0000001")}, "decimal places"),
    ({"quantity": Decimal(10) ** 10}, "above the largest allowed"),
    ({"valid_days": True}, "whole number"),
    ({"name": "L20/5h"}, "without '/'"),
    ({"name": "x" * 121}, "1 to 120 characters"),
    ({"tiers": (VolumeTier(5, Decimal(11)),)}, "each tier's price <= the price before it"),
    ({"tiers": tuple(VolumeTier(n, Decimal(1)) for n in range(2, 30))}, "at most 20 volume tiers"),
])
def test_what_a_product_may_not_be(kw: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        product(**kw)


@pytest.mark.parametrize("bad", [0, -1, 10_001, True, 2.0, "3"])
def test_a_count_is_a_whole_number_from_1_to_10000(bad: object) -> None:
    with pytest.raises(ValidationError, match="count must be"):
        check_count(bad)
    assert check_count(10_000) == 10_000


def test_only_the_operator_sets_package_prices() -> None:
    for action in (Action.MANAGE_PACKAGE_PRODUCTS, Action.SELL_PACKAGE, Action.SET_PRICE):
        assert set(RULES[action].scopes) == {Role.OPERATOR}, action
    assert set(RULES[Action.BUY_PACKAGE].scopes) == {Role.TENANT}
    assert Principal("a", "acme", Role.TENANT).role in RULES[Action.READ_PACKAGE_PRODUCTS].scopes

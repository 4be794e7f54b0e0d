"""``token_prices.set_token_prices`` (``suanli price tokens``): a model's per-token list prices set in
one transaction: the default plan in force ends now, a new one keeps its other rates; usage before
the change keeps the old price (by hand); only the operator; bad rates refused, nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.errors import PermissionDeniedError, ValidationError
from suanli.service import billing, plans, token_prices
from suanli.service.inference_metering import MeteredRequest, meter
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def req(n: int, tenant: Principal, at: datetime, prompt: int) -> MeteredRequest:
    return MeteredRequest(id=f"req_{n}", token_id=None, tenant_id=tenant.tenant_id, deployment_id="dep_x",
                          replica_id="rep_x", model="tiny-gpt", endpoint="chat", status="ok", stream=False,
                          started_at=at - timedelta(seconds=1), ended_at=at, prompt_tokens=prompt)


def defaults(p: Platform, operator: Principal) -> list[dict[str, object]]:
    return [x for x in plans.list_plans(p, operator) if x["tenant"] == "*"]


def test_a_price_change_keeps_the_other_rates_and_the_past(demo: Platform, operator: Principal, tenant: Principal,
                                                           clock: FakeClock) -> None:
    clock.set(NOW)
    old = plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                             "rates": [{"meter": "egress_gb", "price": "0.8"},
                                                       {"meter": "inference_input_tokens", "model": "tiny-gpt",
                                                        "price": "2"}]})
    assert meter(demo, req(1, tenant, NOW - timedelta(minutes=30), 1_000_000))  # before: at 2
    new = token_prices.set_token_prices(demo, operator, "tiny-gpt", {
        "input": {"price": "3"}, "output": {"tiers": [{"up_to": "1", "price": "8"}, {"up_to": None, "price": "6"}]}})
    got = {(r["meter"], r["model"]): r for r in new["rates"]}
    assert got[("egress_gb", None)]["price"] == "0.8" and got[("inference_input_tokens", "tiny-gpt")]["price"] == "3"
    assert [t["price"] for t in got[("inference_output_tokens", "tiny-gpt")]["tiers"]] == ["8", "6"]
    assert new["effective_from"] == NOW and new["effective_to"] is None
    ended = next(x for x in defaults(demo, operator) if x["id"] == old["id"])
    assert ended["effective_to"] == NOW
    assert meter(demo, req(2, tenant, NOW + timedelta(minutes=30), 1_000_000))  # after: at 3
    clock.advance(hours=1)
    lines = sorted((x.meter, x.unit_price, x.amount) for x in billing.preview(demo, operator, "2026-11", "acme")
                   .rated.lines)
    assert lines == [("inference_input_tokens", Decimal(2), Decimal("2.00")),
                     ("inference_input_tokens", Decimal(3), Decimal("3.00"))]
    # again at the same instant: the plan that starts now is replaced, never two at once
    clock.set(NOW + timedelta(hours=2))
    token_prices.set_token_prices(demo, operator, "tiny-gpt", {"cached": {"price": "0.5"}})
    again = token_prices.set_token_prices(demo, operator, "tiny-gpt", {"cached": {"price": "0.4"}})
    live = [x for x in defaults(demo, operator) if x["effective_to"] is None]
    assert [x["id"] for x in live] == [again["id"]]
    assert {(r["meter"], r["price"]) for r in again["rates"] if r["model"] == "tiny-gpt"} == {
        ("inference_input_tokens", "3"), ("inference_output_tokens", "8"), ("inference_cached_input_tokens", "0.4")}


def test_no_default_plan_yet_makes_one(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    made = token_prices.set_token_prices(demo, operator, "all-minilm-l6-v2", {"input": {"price": "0.1"}})
    assert made["tenant"] == "*" and [r["meter"] for r in made["rates"]] == ["inference_input_tokens"]


@pytest.mark.parametrize(("prices", "field"), [
    ({}, "input"),
    ({"input": {"price": "-1"}}, "price"),
    ({"output": {"tiers": [{"up_to": "1", "price": "8"}]}}, "tiers"),
    ({"output": {"tiers": [{"up_to": "2", "price": "8"}, {"up_to": "1", "price": "7"}, {"up_to": None,
                                                                                        "price": "6"}]}}, "tiers"),
    ({"input": {"amount": "1"}}, "input"),
    ({"reasoning": {"price": "1"}}, "prices"),
])
def test_bad_prices_are_refused_and_nothing_is_written(demo: Platform, operator: Principal,
                                                       prices: dict[str, dict[str, object]], field: str) -> None:
    before = defaults(demo, operator)
    with pytest.raises(ValidationError) as e:
        token_prices.set_token_prices(demo, operator, "tiny-gpt", prices)
    assert field in str(e.value.details.get("field", "")) + e.value.message
    assert defaults(demo, operator) == before


def test_only_the_operator_sets_prices(demo: Platform, tenant: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        token_prices.set_token_prices(demo, tenant, "tiny-gpt", {"input": {"price": "0"}})

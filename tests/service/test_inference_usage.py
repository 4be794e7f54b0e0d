"""Per-token billing of the inference gateway, by hand: requests metered by the gateway
(``inference_metering.meter``) are billed at per-model, tiered list prices of the default plan
(tenant ``*``), and ``inference_usage.usage`` splits each model's token charges across the keys
that used it, its totals equal to the invoice draft's token lines to the fen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal, Role
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import accounts, billing, inference_usage, plans, usage
from suanli.service.inference_metering import MeteredRequest, meter
from suanli.service.platform import Platform
from suanli.service.tokens import TokenOptions, create_token
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

NOV = datetime(2026, 11, 23, 9, tzinfo=UTC)
M = 1_000_000
TOKEN_METERS = {"inference_input_tokens", "inference_output_tokens", "inference_cached_input_tokens"}


def prices(p: Platform, operator: Principal) -> None:
    """tiny-gpt: input 2, cached 0.5, output 8 up to 1 M tokens then 6; minilm: input 0.10 up to 2 M then 0.05."""
    plans.create_plan(p, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z", "rates": [
        {"meter": "inference_input_tokens", "model": "tiny-gpt", "price": "2"},
        {"meter": "inference_cached_input_tokens", "model": "tiny-gpt", "price": "0.5"},
        {"meter": "inference_output_tokens", "model": "tiny-gpt", "tiers": [{"up_to": "1", "price": "8"},
                                                                           {"up_to": None, "price": "6"}]},
        {"meter": "inference_input_tokens", "model": "minilm", "tiers": [{"up_to": "2", "price": "0.10"},
                                                                        {"up_to": None, "price": "0.05"}]}]})


def request(n: int, tenant: Principal, model: str, token_id: int | None, prompt: int, completion: int = 0,
            cached: int = 0, at: datetime = NOV) -> MeteredRequest:
    return MeteredRequest(id=f"req_{model}_{n}", token_id=token_id, tenant_id=tenant.tenant_id, deployment_id="dep_x",
                          replica_id="rep_x", model=model, endpoint="embedding" if model == "minilm" else "chat",
                          status="ok", stream=False, started_at=at, ended_at=at + timedelta(seconds=1),
                          prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)


def token_lines(p: Platform, operator: Principal, tenant: Principal) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    draft = billing.preview(p, operator, "2026-11", tenant.name)
    return sorted((x.meter, x.model, x.quantity, x.unit_price, x.amount) for x in draft.rated.lines
                  if x.meter in TOKEN_METERS)


def keys(p: Platform, tenant: Principal) -> list[int]:
    return [create_token(p, tenant, TokenOptions(scope="inference", label=f"app-{i}"))[0].id for i in range(3)]


@pytest.fixture
def metered(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> Platform:
    clock.set(NOV)
    prices(demo, operator)
    k1, k2, k3 = keys(demo, tenant)
    # tiny-gpt: 3 requests of 300,000 prompt tokens (100,000 of them cached) and 400,000 completion tokens
    for i in range(3):
        assert meter(demo, request(i, tenant, "tiny-gpt", k1, 300_000, 400_000, 100_000))
    # minilm: 5 requests of 500,000 prompt tokens (2.5 M: the tier boundary at 2 M is crossed)
    for i in range(5):
        assert meter(demo, request(i, tenant, "minilm", k2 if i < 2 else k3, 500_000))
    assert not meter(demo, request(0, tenant, "minilm", k2, 500_000))  # a retry bills nothing more
    # next month's request is not in November's usage
    assert meter(demo, request(9, tenant, "minilm", k2, 7, at=datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)))
    clock.set(datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC))
    return demo


def test_token_lines_are_usage_times_price_with_tiers_per_model(metered: Platform, operator: Principal,
                                                                 tenant: Principal) -> None:
    # by hand:
    #   tiny-gpt input  3 x 200,000 = 0.6 M x 2    = 1.20
    #   tiny-gpt cached 3 x 100,000 = 0.3 M x 0.5  = 0.15
    #   tiny-gpt output 3 x 400,000 = 1.2 M: 1 M x 8 = 8.00, 0.2 M x 6 = 1.20
    #   minilm input    5 x 500,000 = 2.5 M: 2 M x 0.10 = 0.20, 0.5 M x 0.05 = 0.025 -> 0.03 (half up, per line)
    assert token_lines(metered, operator, tenant) == [
        ("inference_cached_input_tokens", "tiny-gpt", Decimal("0.3"), Decimal("0.5"), Decimal("0.15")),
        ("inference_input_tokens", "minilm", Decimal("0.5"), Decimal("0.05"), Decimal("0.03")),
        ("inference_input_tokens", "minilm", Decimal("2"), Decimal("0.10"), Decimal("0.20")),
        ("inference_input_tokens", "tiny-gpt", Decimal("0.6"), Decimal("2"), Decimal("1.20")),
        ("inference_output_tokens", "tiny-gpt", Decimal("0.2"), Decimal("6"), Decimal("1.20")),
        ("inference_output_tokens", "tiny-gpt", Decimal("1"), Decimal("8"), Decimal("8.00")),
    ]


def test_usage_per_key_and_model_adds_up_to_the_invoice(metered: Platform, operator: Principal,
                                                         tenant: Principal) -> None:
    u = inference_usage.usage(metered, tenant, "2026-11")
    rows = [(r.label, r.model, r.requests, r.prompt_tokens, r.cached_tokens, r.completion_tokens, r.cost)
            for r in u.rows]
    # minilm's 0.23 split by prompt tokens: app-1 1.0 M of 2.5 M -> 0.092 -> 0.09, app-2 1.5 M -> 0.138 -> 0.14
    assert rows == [("app-1", "minilm", 2, 1_000_000, 0, 0, Decimal("0.09")),
                    ("app-2", "minilm", 3, 1_500_000, 0, 0, Decimal("0.14")),
                    ("app-0", "tiny-gpt", 3, 900_000, 300_000, 1_200_000, Decimal("10.55"))]
    assert u.totals.cost == sum(x[4] for x in token_lines(metered, operator, tenant)) == Decimal("10.78")
    assert (u.period, u.currency, u.tenants) == ("2026-11", "CNY", {tenant.account_id: "acme"})
    same = inference_usage.usage(metered, operator, "2026-11")  # the operator: every tenant's
    assert [(r.token_id, r.cost) for r in same.rows] == [(r.token_id, r.cost) for r in u.rows]
    december = inference_usage.usage(metered, operator, "2026-12", "acme")
    assert [(r.model, r.prompt_tokens) for r in december.rows] == [("minilm", 7)]


def test_token_charges_reported_outside_the_gateway_still_add_up(metered: Platform, operator: Principal,
                                                                 tenant: Principal) -> None:
    usage.ingest(metered, operator, [{"id": f"ext-{m}", "source": "other-gw", "type": "inference_input_tokens",
                                      "subject": "acme", "time": NOV.isoformat(),
                                      "data": {"quantity": "1000000", "model": m}}
                                     for m in ("tiny-gpt", "bge-m3")])
    u = inference_usage.usage(metered, tenant, "2026-11")
    tiny = [(r.token_id, r.cost) for r in u.rows if r.model == "tiny-gpt"]
    # tiny-gpt input is now 1.6 M x 2 = 3.20 on one line; the key's row is the only one with input
    # tokens of tiny-gpt, so it carries the line (10.55 + 2.00): a key's cost is the model's charges
    # split by the metered requests' tokens
    assert tiny == [(tiny[0][0], Decimal("12.55"))]
    # a model no request of the month used: a row without a key (bge-m3 has no price: an unpriced line at 0)
    assert [(r.token_id, r.model, r.requests, r.cost) for r in u.rows if r.model == "bge-m3"] == [
        (None, "bge-m3", 0, Decimal(0))]
    assert u.totals.cost == sum(x[4] for x in token_lines(metered, operator, tenant))


@pytest.mark.parametrize("period", ["2026-13", "26-11", "2026-1", "x", "1999-12"])
def test_a_bad_period_is_refused_naming_the_field(metered: Platform, tenant: Principal, period: str) -> None:
    with pytest.raises(ValidationError) as e:
        inference_usage.usage(metered, tenant, period)
    assert (e.value.details["field"] == "period" and "YYYY-MM" in e.value.message) or "2000" in e.value.message


def test_who_sees_what(metered: Platform, operator: Principal, tenant: Principal) -> None:
    other = make_tenant(metered, operator, "other")
    assert inference_usage.usage(metered, other, "2026-11").rows == []
    with pytest.raises(NotFoundError):
        inference_usage.usage(metered, other, "2026-11", "acme")
    with pytest.raises(PermissionDeniedError):
        inference_usage.usage(metered, accounts.create_account(metered, operator, "sup", Role.SUPPLIER,
                                                               "huadong-idc")[0], "2026-11")

"""Per-token billing of the inference gateway, by hand: requests metered by the gateway
(``inference_metering.meter``) are billed at per-model, tiered list prices of the default plan
(tenant ``*``), and ``inference_usage.usage`` splits each model's token charges across the keys
that used it, its totals equal to the invoice draft's token lines to the fen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.service import billing, plans
from suanli.service.inference_metering import MeteredRequest, meter
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

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


@pytest.fixture
def metered(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> Platform:
    clock.set(NOV)
    prices(demo, operator)
    # tiny-gpt: 3 requests of 300,000 prompt tokens (100,000 of them cached) and 400,000 completion tokens
    for i in range(3):
        assert meter(demo, request(i, tenant, "tiny-gpt", 1, 300_000, 400_000, 100_000))
    # minilm: 5 requests of 500,000 prompt tokens (2.5 M: the tier boundary at 2 M is crossed)
    for i in range(5):
        assert meter(demo, request(i, tenant, "minilm", 2 if i < 2 else 3, 500_000))
    assert not meter(demo, request(0, tenant, "minilm", 2, 500_000))  # a retry bills nothing more
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
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

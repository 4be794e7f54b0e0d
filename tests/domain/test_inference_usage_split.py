"""The split of a model's token charges across keys: shares in proportion, rounded down, the
remainder to the largest row; the shares always add up to the amount exactly and none is negative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.inference_usage import KeyModelUsage, parse_period, split, with_costs
from suanli.domain.meters import Meter
from suanli.errors import ValidationError


def test_the_remainder_goes_to_the_largest_row() -> None:
    assert split(Decimal("0.10"), [1, 1, 1], "CNY") == [Decimal("0.04"), Decimal("0.03"), Decimal("0.03")]
    assert split(Decimal("0.10"), [1, 5, 1], "CNY") == [Decimal("0.01"), Decimal("0.08"), Decimal("0.01")]
    assert split(Decimal("1.00"), [3, 3, 3], "CNY") == [Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]
    # ten rows of 0.005: rounded half up they would be 0.10 and the remainder -0.05; rounded down, 0.05 to the first
    assert split(Decimal("0.05"), [1] * 10, "CNY") == [Decimal("0.05")] + [Decimal("0.00")] * 9
    with pytest.raises(ValueError):
        split(Decimal(1), [0, 0], "CNY")


@given(st.decimals(min_value=Decimal(0), max_value=Decimal(10**9), places=2),
       st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=20).filter(lambda w: sum(w) > 0))
def test_shares_add_up_exactly(amount: Decimal, weights: list[int]) -> None:
    shares = split(amount, weights, "CNY")
    assert sum(shares, Decimal(0)) == amount
    assert all(s == s.quantize(Decimal("0.01")) and s >= 0 for s in shares)


def row(key: int | None, model: str, prompt: int, cached: int = 0, completion: int = 0) -> KeyModelUsage:
    return KeyModelUsage("t", key, "", "", model, 1, prompt, cached, completion)


def test_each_meter_is_split_by_its_own_tokens() -> None:
    rows = [row(1, "m", 100, 100, 0), row(2, "m", 300, 0, 10)]
    charges = {(Meter.INFERENCE_INPUT_TOKENS, "m"): Decimal("3.00"),
               (Meter.INFERENCE_CACHED_INPUT_TOKENS, "m"): Decimal("0.50"),
               (Meter.INFERENCE_OUTPUT_TOKENS, "m"): Decimal("2.00"),
               (Meter.INFERENCE_INPUT_TOKENS, "x"): Decimal("1.00")}
    out = with_costs(rows, charges, "t", "CNY")
    # key 1: no uncached prompt tokens, all the cached ones, no completion; key 2 the rest
    assert [(r.token_id, r.model, r.cost) for r in out] == [(1, "m", Decimal("0.50")), (2, "m", Decimal("5.00")),
                                                             (None, "x", Decimal("1.00"))]


@pytest.mark.parametrize("bad", ["2026-00", "2026-13", "202611", "2026-1", "1999-12", "abcd-ef"])
def test_period(bad: str) -> None:
    from datetime import UTC, datetime
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_period(None, now)[0] == "2026-11"
    assert parse_period("2026-12", now)[1:] == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError):
        parse_period(bad, now)

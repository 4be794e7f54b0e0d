"""ledger/terms: a term fee is for the device-seconds held, and its credit notes add up to the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from suanli.ledger.terms import HeldSpan, credit_due, fee_for, held_device_seconds

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_held_device_seconds_counts_each_span_inside_the_window_by_its_share() -> None:
    spans: list[HeldSpan] = [(T0, T0 + timedelta(hours=2), Decimal(1)),
                             (T0 + timedelta(hours=1), None, Decimal("0.5")),
                             (T0 - timedelta(hours=5), T0 - timedelta(hours=1), Decimal(1))]
    assert held_device_seconds(spans, T0, T0 + timedelta(hours=4)) == 2 * 3600 + Decimal("0.5") * 3 * 3600
    assert held_device_seconds(spans, T0 + timedelta(hours=9), T0 + timedelta(hours=9)) == 0


def test_fee_for_rounds_once_half_up() -> None:
    assert fee_for(Decimal(1800), Decimal("0.01")) == Decimal("0.01")  # 0.005 -> 0.01
    assert fee_for(Decimal(7 * 3600), Decimal("10.123456")) == Decimal("70.86")


@given(devices=st.integers(1, 4096), seconds=st.integers(1, 366 * 86400),
       hourly=st.decimals(Decimal("0.01"), Decimal("100000"), places=6),
       losses=st.lists(st.integers(0, 10**6), max_size=5))
def test_fee_less_credits_is_always_the_fee_for_what_is_held(devices: int, seconds: int, hourly: Decimal,
                                                             losses: list[int]) -> None:
    """Each event that reveals less held time gives one credit; after any of them, fee billed -
    credits = fee_for(device-seconds held), to the cent, and no credit is negative."""
    held = Decimal(devices * seconds)
    billed = fee_for(held, hourly)
    credited = Decimal("0.00")
    for lost in losses:
        held = max(Decimal(0), held - lost)
        c = credit_due(billed, fee_for(held, hourly), credited)
        assert c >= 0 and c == c.quantize(Decimal("0.01"))
        credited += c
        assert billed - credited == (held * hourly / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert credit_due(billed, fee_for(held, hourly), credited) == 0  # asked again: nothing more

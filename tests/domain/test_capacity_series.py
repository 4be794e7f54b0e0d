"""The capacity series' pure figures: the power model, downsampling loses no total, clipping splits a
span without losing any of it, the default step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.capacity_series import (
    NodeSpan,
    Resolution,
    Tally,
    auto_step,
    clip,
    combine,
    figures,
    kwh,
    modelled_power_w,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def span(i: int, seconds: int = 60, rented: str = "0", node: str = "n1", **kw: Decimal) -> NodeSpan:
    return NodeSpan(Resolution.RAW, T0 + timedelta(seconds=60 * i), Decimal(seconds), node, "s", "H800", "sup", 8,
                    "available", available=Decimal(8 * seconds), rented=Decimal(rented), **kw)


def test_power_model_is_linear_between_idle_and_tdp() -> None:
    assert modelled_power_w(700, 8, Decimal(0)) == Decimal(1680)  # 8 × 700 W × 0.3
    assert modelled_power_w(700, 8, Decimal(8)) == Decimal(5600)  # all busy: TDP each
    assert modelled_power_w(700, 1, Decimal("0.5")) == Decimal(455)  # 700 × (0.3 + 0.7 × 0.5)
    assert kwh(Decimal(1000), Decimal(3600)) == 1


@given(st.lists(st.integers(min_value=0, max_value=480), min_size=1, max_size=120))
def test_an_hour_row_has_the_figures_of_its_raw_rows(rented: list[int]) -> None:
    raws = [span(i, rented=str(r * 60)) for i, r in enumerate(rented)]
    hour = combine(raws, Resolution.HOUR, T0.replace(minute=0))
    assert figures([hour]).lease_rate == figures(raws).lease_rate
    assert figures([hour]).rented_device_hours == figures(raws).rented_device_hours
    assert figures([hour]).observed_seconds == figures(raws).observed_seconds == 60 * len(rented)


@given(st.integers(min_value=1, max_value=59))
def test_clipping_splits_a_span_into_parts_that_add_up(cut: int) -> None:
    x = span(0, rented="123.456")
    at = x.start + timedelta(seconds=cut)
    left, right = clip(x, x.start, at), clip(x, at, x.start + timedelta(hours=1))
    assert left is not None and right is not None
    assert left.rented + right.rented == x.rented and left.seconds + right.seconds == x.seconds
    assert clip(x, at + timedelta(hours=1), at + timedelta(hours=2)) is None


def test_a_groups_wall_time_counts_each_span_once() -> None:
    two_nodes = [span(0, node="a"), span(0, node="b"), span(1, node="a"), span(1, node="b")]
    t = Tally.of(two_nodes)
    assert t.figures().observed_seconds == 120 and t.figures().available == 16
    merged = Tally.of(two_nodes[:2])
    merged.merge(Tally.of(two_nodes[2:]))
    assert merged.figures() == t.figures()


def test_the_default_step_is_raw_for_short_recent_periods_only() -> None:
    now = T0
    assert auto_step(now - timedelta(hours=2), now) is Resolution.RAW
    assert auto_step(now - timedelta(hours=24), now) is Resolution.HOUR
    assert auto_step(now - timedelta(days=60), now) is Resolution.HOUR
    assert auto_step(now - timedelta(days=120), now) is Resolution.DAY

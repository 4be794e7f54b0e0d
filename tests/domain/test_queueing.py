"""The queue's pure rules (suanli.domain.queueing): input, order of service, and the calendar, on
hand-built calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.queueing import (
    MAX_CANDIDATES,
    Hold,
    Priority,
    QueuedOrder,
    candidate_starts,
    check_priority,
    earliest_start,
    free_over,
    next_up,
    parse_priority,
    parse_wait_until,
    parse_weight,
    service_order,
)
from suanli.errors import ValidationError

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def h(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def q(order: str, tenant: str, at: float = 0, priority: Priority = Priority.NORMAL) -> QueuedOrder:
    return QueuedOrder(order, tenant, tenant, "gpu", {"form": "gpu"}, priority, h(100), h(at), order)


def test_wait_until_is_future_and_bounded() -> None:
    assert parse_wait_until(None, now=T0) is None
    assert parse_wait_until(h(1), now=T0) == h(1)
    assert parse_wait_until(T0 + timedelta(days=30), now=T0) == T0 + timedelta(days=30)
    for bad, says in ((T0, "not in the future"), (h(-1), "not in the future"),
                      (T0 + timedelta(days=30, seconds=1), "at most 30 days"), ("tomorrow", "ISO-8601")):
        with pytest.raises(ValidationError, match=says) as e:
            parse_wait_until(bad, now=T0)
        assert e.value.details["field"] == "wait_until"


def test_priority_classes_and_who_may_use_high() -> None:
    assert parse_priority(None) is Priority.NORMAL and parse_priority("LOW") is Priority.LOW
    with pytest.raises(ValidationError, match="allowed: high, normal, low"):
        parse_priority("urgent")
    check_priority(Priority.HIGH, allowed_high=True, tenant="acme")
    check_priority(Priority.NORMAL, allowed_high=False, tenant="acme")
    with pytest.raises(ValidationError, match="not allowed for tenant 'acme'; allowed: normal, low"):
        check_priority(Priority.HIGH, allowed_high=False, tenant="acme")


@pytest.mark.parametrize("bad", ["0", "0.001", "1001", "NaN", "inf", "x", True, None])
def test_weights_are_bounded(bad: object) -> None:
    with pytest.raises(ValidationError, match=r"between 0\.01 and 1000"):
        parse_weight(bad)


def test_class_first_then_fair_share_then_arrival() -> None:
    orders = [q("a1", "a", 0), q("b1", "b", 1), q("c1", "c", 2, Priority.HIGH), q("a2", "a", 3, Priority.LOW)]
    used = {"a": 4000, "b": 1000}
    assert [x.order_id for x in service_order(orders, used, {})] == ["c1", "b1", "a1", "a2"]
    # weight 8 makes a's 4000 milli count as 500: it goes before b (1000)
    assert [x.order_id for x in service_order(orders, used, {"a": Decimal(8)})] == ["c1", "a1", "b1", "a2"]
    # equal shares: arrival, then order id
    assert [x.order_id for x in service_order([q("z", "x", 1), q("y", "y", 1), q("w", "w", 0)], {}, {})] == \
        ["w", "y", "z"]


def test_re_ranking_after_each_grant_gives_capacity_in_proportion_to_weights() -> None:
    waiting = [q(f"{t}{i}", t, i) for t in ("heavy", "light") for i in range(30)]
    used: dict[str, int] = {}
    weights = {"heavy": Decimal(2), "light": Decimal(1)}
    for _ in range(30):
        got = next_up(waiting, used, weights)
        assert got is not None
        waiting.remove(got)
        used[got.tenant_id] = used.get(got.tenant_id, 0) + 1000
    assert used == {"heavy": 20000, "light": 10000}


def test_free_over_a_window_counts_every_overlapping_hold() -> None:
    cap = {1: 1000, 2: 1000}
    holds = [Hold(1, 1000, h(0), h(2)), Hold(2, 500, h(0), None), Hold(2, 250, h(5), h(6))]
    assert free_over(cap, holds, h(0), h(1)) == {1: 0, 2: 500}
    assert free_over(cap, holds, h(2), h(3)) == {1: 1000, 2: 500}  # ends are exclusive
    assert free_over(cap, holds, h(4), h(5.5)) == {1: 1000, 2: 250}
    assert free_over(cap, holds, h(3), None) == {1: 1000, 2: 250}  # open-ended: every later hold counts


def test_earliest_start_on_a_hand_built_calendar() -> None:
    """Two devices; 2 devices wanted for 3 hours. Device 1 is busy until 2h, device 2 until 4h, and a
    reservation takes device 1 at [5h, 6h): the 2h slot is too short for 3h on device 2, 4h overlaps the
    reservation, so the first fit is 6h."""
    cap = {1: 1000, 2: 1000}
    holds = [Hold(1, 1000, h(0), h(2)), Hold(2, 1000, h(0), h(4)), Hold(1, 1000, h(5), h(6))]

    def fits(t: datetime, dur: timedelta = timedelta(hours=3)) -> bool:
        free = free_over(cap, holds, t, t + dur)
        return sum(1 for m in free.values() if m == 1000) >= 2

    cands = candidate_starts(T0, [x.end for x in holds])
    assert cands == [h(0), h(2), h(4), h(6)]
    assert earliest_start(cands, fits) == h(6)
    assert earliest_start(cands, lambda t: fits(t, timedelta(hours=1))) == h(4)
    assert earliest_start(cands, lambda _t: False) is None


def test_candidates_stay_within_the_horizon_and_bounded() -> None:
    ends = [h(n) for n in range(1, 1000)] + [None, h(-1)]
    cands = candidate_starts(T0, ends, timedelta(hours=10))
    assert cands == [h(n) for n in range(0, 11)]
    assert len(candidate_starts(T0, ends, timedelta(days=365))) == MAX_CANDIDATES

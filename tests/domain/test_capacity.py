"""max_load: the highest summed milli of one device's windows, against a brute-force count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.capacity import max_load, max_load_per_device

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def t(m: int) -> datetime:
    return T0 + timedelta(minutes=m)


def test_adjacent_windows_do_not_overlap_and_zero_length_loads_nothing() -> None:
    assert max_load([(t(0), t(60), 1000), (t(60), None, 1000)]) == 1000
    assert max_load([(t(0), t(60), 1000), (t(59), t(61), 1000)]) == 2000
    assert max_load([(t(0), None, 1000), (t(30), t(30), 1000)]) == 1000
    assert max_load([]) == 0
    assert max_load_per_device([("a", t(0), None, 600), ("a", t(1), None, 600), ("b", t(0), None, 1)]) == {
        "a": 1200, "b": 1}


@given(st.lists(st.tuples(st.integers(0, 30), st.one_of(st.none(), st.integers(0, 10)), st.integers(1, 1000)),
                max_size=12))
def test_max_load_is_the_highest_sum_at_any_minute(windows: list[tuple[int, int | None, int]]) -> None:
    def load(m: int) -> int:
        return sum(milli for s, n, milli in windows if s <= m and (n is None or m < s + n))

    brute = max((load(m) for m in range(0, 45)), default=0)
    assert max_load([(t(s), None if n is None else t(s + n), milli) for s, n, milli in windows]) == brute

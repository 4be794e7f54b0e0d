"""domain.clock.parse_instant: the one parser of the instants clients send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.clock import EARLIEST, LATEST, parse_instant
from suanli.errors import ValidationError


def test_dates_and_date_times_become_utc_whole_seconds() -> None:
    assert parse_instant("2026-12-01", "start") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_instant("2026-12-01T08:00:00+08:00", "start") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_instant("2026-12-01T08:00:00.7", "start") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert parse_instant(None, "start") is None and parse_instant("", "start") is None


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+00:06", "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z",
                                  "2100-01-01", "2099-12-31T23:00:00-05:00", "yesterday", "2026-13-01", "9" * 80])
def test_out_of_range_or_malformed_is_a_422_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_instant(text, "start")
    assert e.value.details["field"] == "start" and "allowed" in e.value.message


def test_a_zone_can_be_required() -> None:
    with pytest.raises(ValidationError, match="no time zone"):
        parse_instant("2026-12-01T00:00:00", "since", need_zone=True)
    assert parse_instant("2026-12-01T00:00:00Z", "since", need_zone=True) == datetime(2026, 12, 1, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.integers(min_value=-23 * 60, max_value=23 * 60))
def test_any_instant_in_any_zone_is_a_value_or_a_422_never_an_overflow(d: datetime, minutes: int) -> None:
    aware = d.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    try:
        out = parse_instant(aware.isoformat(), "start")
    except ValidationError:
        return
    assert out is not None and EARLIEST <= out < LATEST and out == aware.astimezone(UTC).replace(microsecond=0)

"""domain.tokens: scopes never widen, expiry rules, the once-a-minute last-use rule, labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.tokens import (
    LAST_USED_EVERY,
    MAX_LIFETIME,
    TokenScope,
    check_label,
    expiry,
    needs_touch,
    within,
)
from suanli.errors import ValidationError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SCOPES = st.sampled_from(list(TokenScope))
LEASES = st.sampled_from([None, "lse_a", "lse_b"])


@given(SCOPES, LEASES, SCOPES, LEASES)
def test_a_token_never_makes_a_wider_one(have: TokenScope, have_lease: str | None, want: TokenScope,
                                         want_lease: str | None) -> None:
    ok = within(have, have_lease, want, want_lease)
    if have is TokenScope.FULL:
        assert ok
    elif want is TokenScope.FULL or want is not have or have is TokenScope.INFERENCE:
        assert not ok  # an inference key makes no token (a fresh key would escape its quota)
    elif have is TokenScope.LEASE:
        assert ok == (want_lease == have_lease)
    else:
        assert ok


def test_expiry() -> None:
    assert expiry(NOW, None, None) is None
    assert expiry(NOW, None, 3600) == NOW + timedelta(hours=1)
    assert expiry(NOW, NOW + timedelta(days=2), None) == NOW + timedelta(days=2)
    cap = NOW + timedelta(days=1)
    assert expiry(NOW, None, None, cap) == cap  # a token made by an expiring one expires with it
    assert expiry(NOW, None, 3600, cap) == NOW + timedelta(hours=1)
    for args, says in (((NOW + timedelta(days=1), 60), "not both"), ((None, 59), "between"),
                       ((None, int(MAX_LIFETIME.total_seconds()) + 1), "between"), ((None, True), "whole number"),
                       ((NOW, None), "after now"), ((NOW + MAX_LIFETIME + timedelta(seconds=1), None), "within"),
                       ((datetime(2027, 1, 1), None), "time zone")):
        with pytest.raises(ValidationError, match=says):
            expiry(NOW, *args)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="cannot outlive"):
        expiry(NOW, None, 2 * 86_400, cap)


def test_last_use_is_written_at_most_once_a_minute() -> None:
    assert needs_touch(None, NOW)
    assert not needs_touch(NOW, NOW + LAST_USED_EVERY - timedelta(microseconds=1))
    assert needs_touch(NOW, NOW + LAST_USED_EVERY)


def test_labels() -> None:
    assert check_label("  ci runner ") == "ci runner"
    assert check_label("笔记本 laptop") == "笔记本 laptop"
    for bad in ("a\nb", "\x00", "\x1b[2J", "\u202eevil", "x" * 81):
        with pytest.raises(ValidationError):
            check_label(bad)

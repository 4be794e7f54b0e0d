"""``inference_keys.admit``: an inference key's requests per minute and monthly token quota (429s that
say how long to wait and what is left); other scopes are not limited per key."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.members import next_month
from suanli.domain.tokens import TokenScope
from suanli.errors import QuotaExceededError, TooManyRequestsError
from suanli.service import accounts, inference_keys
from suanli.service.platform import Platform
from suanli.service.tokens import TokenOptions, create_token
from suanli.store.inference_tables import InferenceKeyUsageRow
from suanli.testing.clock import FakeClock


def key(p: Platform, tenant: Principal, **limits: int) -> Principal:
    full = accounts.authenticate(p, accounts.issue_token(p, OPERATOR[id(p)], tenant.name))
    made, secret = create_token(p, full, TokenOptions(scope="inference", **limits))  # type: ignore[arg-type]
    who = accounts.authenticate(p, secret)
    assert who.token_scope is TokenScope.INFERENCE and who.token_id == made.id
    return who


OPERATOR: dict[int, Principal] = {}


@pytest.fixture
def ready(demo: Platform, operator: Principal, tenant: Principal) -> tuple[Platform, Principal]:
    OPERATOR[id(demo)] = operator
    return demo, tenant


def use(p: Platform, token_id: int, period: str, tokens: int) -> None:
    with p.tx() as s:
        s.add(InferenceKeyUsageRow(token_id=token_id, period=period, tokens=tokens))


def test_the_rate_limit_refuses_past_its_count_and_says_when(ready: tuple[Platform, Principal]) -> None:
    p, tenant = ready
    k = key(p, tenant, rate_limit_per_minute=3)
    for _ in range(3):
        inference_keys.admit(p, k, 10)
    with pytest.raises(TooManyRequestsError) as e:
        inference_keys.admit(p, k, 10)
    assert e.value.status == 429 and e.value.code == "rate_limit_exceeded"
    assert 1 <= e.value.details["retry_after_s"] <= 60 and "3 requests per minute" in e.value.message
    other = key(p, tenant, rate_limit_per_minute=3)  # each key has its own window
    inference_keys.admit(p, other, 10)


def test_the_quota_counts_the_month_and_says_what_is_left(ready: tuple[Platform, Principal],
                                                            clock: FakeClock) -> None:
    p, tenant = ready
    resets = next_month(clock.now())
    clock.set(resets - timedelta(hours=1))  # the last hour of the month
    month, last = clock.now().strftime("%Y-%m"), (resets - timedelta(days=40)).strftime("%Y-%m")
    k = key(p, tenant, token_quota=1000)
    assert k.token_id is not None
    inference_keys.admit(p, k, 1000)  # nothing used yet: exactly the quota is fine
    use(p, k.token_id, month, 900)
    use(p, k.token_id, last, 10**9)  # an earlier month's use does not count
    inference_keys.admit(p, k, 100)  # 900 + 100 = 1000: allowed
    with pytest.raises(QuotaExceededError) as e:
        inference_keys.admit(p, k, 101)
    err = e.value
    assert err.status == 429 and err.code == "insufficient_quota"
    assert (err.details["used"], err.details["left"], err.details["quota"]) == (900, 100, 1000)
    assert err.details["resets_at"] == resets.isoformat() and err.details["retry_after_s"] == 3600
    assert "100 are left" in err.message and resets.isoformat() in err.message
    clock.set(resets)  # a new month: a fresh quota
    inference_keys.admit(p, k, 1000)


def test_a_key_at_its_quota_is_refused_even_a_tiny_request(ready: tuple[Platform, Principal],
                                                           clock: FakeClock) -> None:
    p, tenant = ready
    k = key(p, tenant, token_quota=50)
    assert k.token_id is not None
    use(p, k.token_id, clock.now().strftime("%Y-%m"), 50)
    with pytest.raises(QuotaExceededError):
        inference_keys.admit(p, k, 0)


def test_other_scopes_and_unlimited_keys_pass(ready: tuple[Platform, Principal]) -> None:
    p, tenant = ready
    k = key(p, tenant)
    for _ in range(50):
        inference_keys.admit(p, k, 10**12)
    inference_keys.admit(p, replace(k, token_scope=TokenScope.FULL), 10**12)
    inference_keys.admit(p, tenant, 10**12)


def test_the_budget_read_with_the_route_decides_the_same(ready: tuple[Platform, Principal], clock: FakeClock) -> None:
    """The gateway reads the key's budget in its route's transaction (``read_budget``) and hands it over."""
    from suanli.errors import AuthenticationError
    from suanli.store.tables import ApiTokenRow

    p, tenant = ready
    k = key(p, tenant, token_quota=50)
    assert k.token_id is not None
    use(p, k.token_id, clock.now().strftime("%Y-%m"), 45)
    with p.read() as s:
        got = inference_keys.read_budget(s, p, k)
        assert inference_keys.read_budget(s, p, replace(k, token_scope=TokenScope.FULL)) is None
    assert got is not None and (got.used, got.token_quota) == (45, 50)
    inference_keys.admit(p, k, 5, got)
    with pytest.raises(QuotaExceededError):
        inference_keys.admit(p, k, 6, got)
    with p.tx() as s:  # the key deleted between authentication and the read
        row = s.get(ApiTokenRow, k.token_id)
        assert row is not None
        s.delete(row)
    with p.read() as s:
        gone = inference_keys.read_budget(s, p, k)
    with pytest.raises(AuthenticationError, match="no longer exists"):
        inference_keys.admit(p, k, 1, gone)

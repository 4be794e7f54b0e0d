"""``ensure_account(reuse=...)`` (what ``serve --demo`` calls on each start): a saved token that still works
for that account is handed back, so restarts leave the number of live tokens unchanged; a revoked,
expired, narrower or another account's token is replaced by one new token."""

from __future__ import annotations

from suanli.domain.accounts import Principal, Role
from suanli.service import accounts, tokens
from suanli.service.platform import Platform
from suanli.store import tokens as token_store
from suanli.testing.clock import FakeClock


def live(p: Platform, clock: FakeClock) -> int:
    with p.tx() as s:
        return token_store.count_live(s, clock.now())


def test_restarts_reuse_the_saved_demo_tokens(platform: Platform, operator: Principal, clock: FakeClock) -> None:
    first = accounts.ensure_account(platform, "demo-tenant", Role.TENANT)
    n = live(platform, clock)
    for _ in range(3):  # three restarts
        assert accounts.ensure_account(platform, "demo-tenant", Role.TENANT, reuse=first) == first
    assert live(platform, clock) == n
    # not reused: another account's token, a narrower one, a revoked one, an expired one, garbage
    tenant = accounts.authenticate(platform, first)
    read = tokens.create_token(platform, tenant, tokens.TokenOptions(scope="read"))[1]
    short = tokens.create_token(platform, tenant, tokens.TokenOptions(expires_in_s=60))[1]
    n = live(platform, clock)
    for other in ("sl_garbage", read, accounts.ensure_account(platform, "someone-else", Role.TENANT)):
        assert accounts.ensure_account(platform, "demo-tenant", Role.TENANT, reuse=other) != other
    clock.advance(61)
    assert accounts.ensure_account(platform, "demo-tenant", Role.TENANT, reuse=short) != short
    me = accounts.authenticate(platform, first)
    tokens.revoke_token(platform, me, me.token_id or 0)
    assert accounts.ensure_account(platform, "demo-tenant", Role.TENANT, reuse=first) != first

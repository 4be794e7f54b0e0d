"""authenticate(): one read query per request, no write lock, and a change to a token counts at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from suanli.domain.accounts import Principal, Role
from suanli.domain.members import MemberRole
from suanli.errors import AuthenticationError
from suanli.service import accounts, members, tokens
from suanli.service.platform import Platform
from suanli.service.tokens import TokenOptions
from suanli.testing.clock import FakeClock


@contextmanager
def statements(p: Platform) -> Iterator[list[str]]:
    """Every SQL statement the platform's engine sends while the block runs (BEGIN included)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(p.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(p.engine, "before_cursor_execute", note)


def _queries(seen: list[str]) -> list[str]:
    """The statements that read or write rows (not BEGIN/COMMIT/PRAGMA or a pool's ping)."""
    return [x for x in seen if x.split(" ", 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE")
            and x.upper() != "SELECT 1"]


def test_a_request_costs_one_read_query_once_last_use_is_recent(platform: Platform, operator: Principal,
                                                                 clock: FakeClock) -> None:
    who, secret = accounts.create_account(platform, operator, "acme", Role.TENANT)
    accounts.authenticate(platform, secret)  # the first use records last_used_at
    clock.advance(5)
    with statements(platform) as seen:
        again = accounts.authenticate(platform, secret)
    assert again.account_id == who.account_id and again.token_id is not None
    assert len(_queries(seen)) == 1, seen
    assert not any(x.upper().startswith("BEGIN IMMEDIATE") for x in seen), seen  # SQLite: no write lock


def test_a_member_is_authenticated_with_its_organisation_in_the_same_query(
        platform: Platform, operator: Principal, clock: FakeClock) -> None:
    org, _ = accounts.create_account(platform, operator, "acme", Role.TENANT)
    _member, secret = members.add_member(platform, org, "dev1", "developer")
    accounts.authenticate(platform, secret)
    clock.advance(5)
    with statements(platform) as seen:
        who = accounts.authenticate(platform, secret)
    assert (who.organisation, who.organisation_name, who.member_role) == (org.account_id, "acme",
                                                                         MemberRole.DEVELOPER)
    assert who.tenant_id == org.account_id
    assert len(_queries(seen)) == 1, seen


def test_revoked_expired_and_removed_are_refused_on_the_next_request(platform: Platform, operator: Principal,
                                                                     clock: FakeClock) -> None:
    _org, org_secret = accounts.create_account(platform, operator, "acme", Role.TENANT)
    admin = accounts.authenticate(platform, org_secret)
    token, secret = tokens.create_token(platform, admin, TokenOptions(label="ci"))
    accounts.authenticate(platform, secret)
    tokens.revoke_token(platform, admin, token.id)
    with pytest.raises(AuthenticationError, match="was revoked"):
        accounts.authenticate(platform, secret)

    _, short = tokens.create_token(platform, admin, TokenOptions(label="short", expires_in_s=3600))
    accounts.authenticate(platform, short)
    clock.advance(hours=1)
    with pytest.raises(AuthenticationError, match="expired"):
        accounts.authenticate(platform, short)

    _, member_secret = members.add_member(platform, admin, "dev1", "viewer")
    accounts.authenticate(platform, member_secret)
    members.remove_member(platform, admin, "dev1")
    with pytest.raises(AuthenticationError):
        accounts.authenticate(platform, member_secret)
    with pytest.raises(AuthenticationError, match="unknown or revoked"):
        accounts.authenticate(platform, "sl_not-a-token")

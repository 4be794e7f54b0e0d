"""The member-role table: every name in it is a real action, admin can do all a tenant can, each
other role exactly what docs/accounts.md says, and a refusal names the member roles that may."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import RULES, Action, authorize
from suanli.domain.members import (
    ADMIN_ONLY,
    MEMBER_ACTIONS,
    MemberRole,
    SpendLimitError,
    check_spend,
    order_commitment,
)
from suanli.errors import PermissionDeniedError

TENANT_ACTIONS = {a for a, r in RULES.items() if Role.TENANT in r.scopes}


def member(role: MemberRole) -> Principal:
    return Principal("acc_m", "m", Role.TENANT, organisation="acc_o", organisation_name="org", member_role=role)


def test_the_table_names_real_actions_only() -> None:
    names = {a.value for a in Action}
    for role, allowed in MEMBER_ACTIONS.items():
        assert allowed is None or allowed <= names, (role, sorted((allowed or set()) - names))
    assert {"manage_members", "read_audit"} <= names


@pytest.mark.parametrize("action", sorted(TENANT_ACTIONS))
def test_admin_may_do_everything_a_tenant_may(action: Action) -> None:
    grant = authorize(member(MemberRole.ADMIN), action)
    if RULES[action].scopes[Role.TENANT].value == "own_tenant":
        assert grant.tenant_id == "acc_o"  # the organisation's, not the member's own id


def allowed(role: MemberRole) -> set[str]:
    out = set()
    for a in TENANT_ACTIONS:
        try:
            authorize(member(role), a)
            out.add(a.value)
        except PermissionDeniedError:
            pass
    return out


def test_what_each_role_may_do() -> None:
    dev, fin, view = (allowed(r) for r in (MemberRole.DEVELOPER, MemberRole.FINANCE, MemberRole.VIEWER))
    assert {"place_order", "submit_job", "change_lease", "cancel_job", "read_usage", "read_offers"} <= dev
    assert not {"read_invoices", "read_wallet", "buy_package", "manage_members"} & dev
    assert {"read_invoices", "read_wallet", "buy_package", "read_vouchers", "read_plans", "read_usage"} <= fin
    assert not {"place_order", "submit_job", "change_lease", "cancel_order", "manage_members"} & fin
    assert all(a.startswith("read_") for a in view - {"manage_own_tokens"}) and "read_invoices" in view
    assert "manage_own_tokens" in dev & fin & view
    assert not ADMIN_ONLY & (dev | fin | view)


def test_a_refusal_names_the_member_roles_that_may() -> None:
    with pytest.raises(PermissionDeniedError) as e:
        authorize(member(MemberRole.FINANCE), Action.SUBMIT_JOB)
    assert "needs the admin or developer member role in organisation 'org'" in e.value.message
    assert e.value.details["required_member_roles"] == ["admin", "developer"]


def test_an_open_ended_order_commits_to_the_end_of_its_month() -> None:
    start = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert order_commitment(Decimal("2.6"), None, start, "CNY") == Decimal("5.20")
    assert order_commitment(Decimal("2.6"), None, datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "CNY") == Decimal("2.60")
    assert order_commitment(Decimal("2.6"), Decimal("26"), start, "CNY") == Decimal("26.00")
    december = datetime(2026, 12, 31, 0, 0, tzinfo=UTC)
    assert order_commitment(Decimal(1), None, december, "CNY") == Decimal("24.00")


def test_the_limit_is_inclusive() -> None:
    month = datetime(2026, 11, 1, tzinfo=UTC)
    check_spend("m", Decimal(50), Decimal(24), Decimal(26), "CNY", month, "order")
    check_spend("m", None, Decimal(10**9), Decimal(1), "CNY", month, "order")
    with pytest.raises(SpendLimitError, match=r"limit 50 CNY, spent 24\.00 CNY in 2026-11"):
        check_spend("m", Decimal(50), Decimal(24), Decimal("26.01"), "CNY", month, "order")

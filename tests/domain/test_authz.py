"""The authorization table: every action has a rule, refusals are 403 before any lookup, grants fail closed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import RULES, Action, Scope, authorize, sees_revenue_split
from suanli.domain.leases import Allocation, Lease, LeaseState, ProductForm
from suanli.errors import NotFoundError, PermissionDeniedError

OP = Principal("acc_op", "operator", Role.OPERATOR)
ACME = Principal("acc_acme", "acme", Role.TENANT)
EAST = Principal("acc_east", "east-ops", Role.SUPPLIER, "huadong-idc")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_every_action_has_a_rule_and_the_operator_only_runs_no_tenant_code() -> None:
    assert set(RULES) == set(Action)
    for action, rule in RULES.items():
        assert rule.scopes, action
        assert Scope.OWN_SUPPLIER not in {s for r, s in rule.scopes.items() if r is not Role.SUPPLIER}
    assert set(RULES[Action.SUBMIT_JOB].scopes) == {Role.TENANT}
    assert set(RULES[Action.SET_PRICE].scopes) == {Role.OPERATOR}
    assert Role.SUPPLIER not in RULES[Action.READ_JOBS].scopes
    assert Role.SUPPLIER not in RULES[Action.READ_LEASE_USAGE].scopes


def test_a_refusal_names_the_action_and_the_roles_allowed() -> None:
    with pytest.raises(PermissionDeniedError, match=r"reading jobs and their logs needs the operator or tenant "
                                                    r"role; account 'east-ops' is a supplier; suppliers see"):
        authorize(EAST, Action.READ_JOBS)
    with pytest.raises(PermissionDeniedError, match="needs the tenant role"):
        authorize(OP, Action.SUBMIT_JOB)


def test_grants_scope_reads_and_fail_closed() -> None:
    assert authorize(OP, Action.READ_JOBS).tenant_id is None  # everything
    assert authorize(ACME, Action.READ_JOBS).tenant_id == "acc_acme"
    leases = authorize(EAST, Action.READ_LEASES)
    assert leases.lease_filter == (None, "huadong-idc")
    with pytest.raises(PermissionDeniedError):
        _ = leases.tenant_id  # never "no filter" for a supplier
    with pytest.raises(PermissionDeniedError):
        _ = authorize(ACME, Action.READ_LEASES).supplier


def test_naming_another_party_answers_not_found() -> None:
    g = authorize(ACME, Action.READ_WALLET)
    assert g.own_tenant(None) and g.own_tenant("acme") and g.own_tenant("acc_acme")
    with pytest.raises(NotFoundError, match="no tenant 'beta' visible to you"):
        g.own_tenant("beta")
    assert authorize(OP, Action.READ_WALLET).own_tenant("beta") is False
    s = authorize(EAST, Action.READ_SUPPLIER_STATEMENT)
    assert s.named_supplier(None) == s.named_supplier("huadong-idc") == "huadong-idc"
    with pytest.raises(NotFoundError):
        s.named_supplier("xibu-compute")
    assert authorize(OP, Action.READ_SUPPLIER_STATEMENT).named_supplier("xibu-compute") == "xibu-compute"


def _alloc(node: str, supplier: str) -> Allocation:
    return Allocation(1, node, 0, "A800", "sh", supplier, "sh/ib", 1000, 0, T0, None)


def test_a_supplier_sees_only_its_devices_of_a_lease() -> None:
    lease = Lease("ls_1", "ord_1", "acc_acme", ProductForm.CLUSTER, LeaseState.ACTIVE, T0, None, T0, None, "",
                  Decimal("0.15"), "fgd: nodes a-1, b-1", T0,
                  (_alloc("a-1", "huadong-idc"), _alloc("b-1", "xibu-compute")))
    seen = authorize(EAST, Action.READ_LEASES).lease_view(lease)
    assert [a.node for a in seen.allocations] == ["a-1"] and seen.placement == ""
    assert authorize(ACME, Action.READ_LEASES).lease_view(lease) == lease
    assert sees_revenue_split(OP) and not sees_revenue_split(ACME) and not sees_revenue_split(EAST)

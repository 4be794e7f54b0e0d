"""The audit trail through the service layer: every change recorded with its actor in the same
transaction, append-only in the database, a tenant sees its own organisation only (SQLite and
PostgreSQL through the ``platform`` fixture)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from suanli.domain.accounts import Principal, Role
from suanli.domain.audit import AuditAction, AuditFilter
from suanli.errors import NotFoundError, PermissionDeniedError
from suanli.service import accounts, audit, billing, leases, orders, prices, wallets
from suanli.service.audit_context import acting
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store.audit import APPEND_ONLY
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

OP_AT = {"address": "203.0.113.7", "method": "POST", "path": "/v1/test"}


def trail(p: Platform, who: Principal, **f: object) -> list[audit.AuditEvent]:
    return audit.list_events(p, who, AuditFilter(**f), limit=500)  # type: ignore[arg-type]


def test_price_change_names_actor_token_address_and_values(demo: Platform, operator: Principal) -> None:
    with acting(operator, **OP_AT):
        prices.set_price(demo, operator, "H800", Decimal("123456.78"), "p_year")
    (e,) = trail(demo, operator, object_type="prices", actor=operator.name)
    assert (e.actor.name, e.actor.role, e.actor.address, e.actor.method, e.actor.path) == (
        "operator", "operator", "203.0.113.7", "POST", "/v1/test")
    assert e.actor.token_prefix and e.actor.token_prefix == operator.token_prefix
    assert e.action is AuditAction.CREATE and e.tenant_id is None
    assert e.changes["amount"] == [None, "123456.78"] and e.changes["unit"] == [None, "p_year"]
    assert "amount=123456.78" in e.summary


def test_lease_ended_by_operator_records_before_and_after(demo: Platform, operator: Principal,
                                                           tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    lease_id = res.order.lease_id or ""
    clock.advance(hours=1)
    with acting(operator, **OP_AT):
        leases.end_lease(demo, operator, lease_id, "maintenance window")
    ends = [e for e in trail(demo, operator, object_type="leases", object_id=lease_id)
            if e.action is AuditAction.UPDATE]
    (e,) = ends
    assert e.actor.name == "operator" and e.actor.address == "203.0.113.7"
    assert e.changes["state"] == ["active", "ended"]
    assert e.changes["reason"][1] == "maintenance window"
    assert e.tenant_id == tenant.account_id
    assert "state: active -> ended" in e.summary
    # the lease's own events name who caused them: the order as system here (no request), the end by the operator
    _lease, events = leases.get_lease(demo, operator, lease_id)
    assert events[-1]["to"] == "ended" and events[-1]["actor"] == "operator"


def test_invoice_issued_and_top_up_recorded(demo: Platform, operator: Principal, tenant: Principal,
                                            clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1})
    clock.advance(hours=2)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.set(datetime(2026, 12, 1, 1, tzinfo=UTC))
    with acting(operator, **OP_AT):
        issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
        wallets.top_up(demo, operator, "acme", Decimal("50.00"))
    (inv,) = trail(demo, operator, object_type="invoices", object_id=issued["id"], action=AuditAction.CREATE)
    assert inv.actor.name == "operator" and inv.tenant_id == tenant.account_id
    assert inv.changes["tenant_id"] == [None, tenant.account_id]
    posted = trail(demo, operator, object_type="ledger_entries", tenant_id=tenant.account_id)
    legs = [leg for e in posted for leg in (e.changes.get("postings") or [None, []])[1]]
    assert f"wallet:{tenant.account_id} -50.00" in legs or f"wallet:{tenant.account_id} 50.00" in legs


def test_account_and_token_creation_never_record_the_secret(platform: Platform, operator: Principal) -> None:
    with acting(operator, **OP_AT):
        who, token = accounts.create_account(platform, operator, "newco", Role.TENANT)
    (acc,) = trail(platform, operator, object_type="accounts", object_id=who.account_id)
    assert acc.actor.name == "operator" and acc.changes["name"] == [None, "newco"] and acc.tenant_id == who.account_id
    (tok,) = trail(platform, operator, object_type="api_tokens", tenant_id=who.account_id)
    assert tok.changes["token_hash"] == [None, "<secret>"]
    with platform.tx() as s:
        dumped = s.execute(text("SELECT changes FROM audit_events")).scalars().all()
    assert not any(token in json.dumps(d) for d in dumped)
    assert not any(account_store.hash_token(token) in json.dumps(d) for d in dumped)


def test_a_rolled_back_change_leaves_no_audit_row(platform: Platform, operator: Principal) -> None:
    before = len(trail(platform, operator))
    with pytest.raises(RuntimeError), acting(operator), platform.tx() as s:
        account_store.create_account(s, "ghost", Role.TENANT, None, platform.clock.now())
        s.flush()  # the audit row is written now, in this transaction
        assert s.execute(text("SELECT count(*) FROM audit_events WHERE object_type = 'accounts' "
                              "AND actor_name = 'operator'")).scalar() == 1
        raise RuntimeError("fails after the write")
    assert len(trail(platform, operator)) == before
    with pytest.raises(NotFoundError), platform.tx() as s:
        account_store.get_account(s, "ghost")


@pytest.mark.parametrize("sql", ["UPDATE audit_events SET actor_name = 'someone-else'", "DELETE FROM audit_events"])
def test_the_database_refuses_to_change_or_delete_audit_rows(platform: Platform, operator: Principal,
                                                             sql: str) -> None:
    n = len(trail(platform, operator))
    assert n > 0
    with pytest.raises(DBAPIError, match=APPEND_ONLY), platform.engine.begin() as c:
        c.execute(text(sql))
    assert len(trail(platform, operator)) == n
    assert {e.actor.name for e in trail(platform, operator)} == {"system"}  # bootstrap, unchanged


def test_tenant_sees_only_its_own_organisation(demo: Platform, operator: Principal, tenant: Principal) -> None:
    other = make_tenant(demo, operator, "beta")
    with acting(tenant):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1})
    with acting(other):
        orders.create_order(demo, other, {"form": "gpu", "quantity": 1})
    mine = trail(demo, tenant)
    assert mine and {e.tenant_id for e in mine} == {tenant.account_id}
    assert {e.actor.name for e in mine} >= {"acme"}
    assert not [e for e in mine if e.actor.name == "beta"]
    assert {e.tenant_id for e in trail(demo, other)} == {other.account_id}
    with pytest.raises(NotFoundError):
        trail(demo, tenant, tenant_id="beta")
    assert {e.tenant_id for e in trail(demo, operator, tenant_id="beta")} == {other.account_id}
    supplier, _ = accounts.create_account(demo, operator, "east-sup", Role.SUPPLIER, "huadong-idc")
    with pytest.raises(PermissionDeniedError):
        trail(demo, supplier)


def test_export_csv_and_json_parse_and_hold_the_rows(demo: Platform, operator: Principal, tenant: Principal) -> None:
    with acting(operator, **OP_AT):
        prices.set_price(demo, operator, "H800", Decimal("99000"), "p_year")
    listed = trail(demo, operator)
    rows = list(csv.DictReader(io.StringIO("".join(audit.export(demo, operator, AuditFilter(), "csv")))))
    assert len(rows) == len(listed)
    price = next(r for r in rows if r["object_type"] == "prices" and r["actor"] == "operator")
    assert price["address"] == "203.0.113.7" and json.loads(price["changes"])["amount"] == [None, "99000"]
    docs = json.loads("".join(audit.export(demo, operator, AuditFilter(), "json")))
    assert [d["id"] for d in docs] == sorted(e.id for e in listed)
    assert len(json.loads("".join(audit.export(demo, operator, AuditFilter(), "json", limit=2)))) == 2
    tenant_rows = json.loads("".join(audit.export(demo, tenant, AuditFilter(), "json")))
    assert tenant_rows and {d["tenant_id"] for d in tenant_rows} == {tenant.account_id}


def test_a_members_changes_name_the_member_and_belong_to_its_organisation(demo: Platform, operator: Principal,
                                                                         tenant: Principal) -> None:
    from suanli.service import members

    with acting(tenant):
        member, token = members.add_member(demo, tenant, "acme-dev", "developer")
    dev = accounts.authenticate(demo, token)
    with acting(dev, address="192.0.2.9"):
        res = orders.create_order(demo, dev, {"form": "gpu", "quantity": 1})
    (made,) = trail(demo, tenant, object_type="orders", object_id=res.order.id, action=AuditAction.CREATE)
    assert (made.actor.name, made.actor.address, made.tenant_id) == ("acme-dev", "192.0.2.9", tenant.account_id)
    assert made.actor.token_prefix and token.startswith(made.actor.token_prefix)
    created = trail(demo, tenant, object_type="accounts", object_id=member.account_id)
    assert created and {e.tenant_id for e in created} == {tenant.account_id}
    assert {e.object_id for e in trail(demo, tenant, object_type="api_tokens")} >= {
        e.object_id for e in trail(demo, operator, object_type="api_tokens", tenant_id=tenant.account_id)}
    with pytest.raises(PermissionDeniedError):  # reading the trail is the organisation admin's
        trail(demo, dev)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_refuses_truncate_too(platform: Platform, operator: Principal) -> None:
    n = len(trail(platform, operator))
    with pytest.raises(DBAPIError, match=APPEND_ONLY), platform.engine.begin() as c:
        c.execute(text("TRUNCATE audit_events"))
    assert len(trail(platform, operator)) == n > 0


def test_statements_are_recorded_like_the_unit_of_work(demo: Platform, operator: Principal) -> None:
    """UPDATE by a WHERE clause, a bulk UPDATE by primary key and a DELETE through the session are
    recorded row by row, with the rows they touched only."""
    from sqlalchemy import delete, select, update

    from suanli.store.tables import NodeRow, SupplierRow

    with demo.tx() as s:
        first, second, third = s.scalars(select(NodeRow.id).order_by(NodeRow.id).limit(3)).all()
    with acting(operator), demo.tx() as s:
        s.execute(update(NodeRow).where(NodeRow.id == first).values(state_reason="fan swap"))
        s.execute(update(NodeRow), [{"id": second, "state_reason": "firmware"}, {"id": third, "state_reason": ""}])
        s.add(SupplierRow(name="short-lived", display_name="x"))
        s.flush()
        s.execute(delete(SupplierRow).where(SupplierRow.name == "short-lived"))
    nodes = trail(demo, operator, object_type="nodes", actor="operator")
    assert sorted((e.object_id, e.changes["state_reason"][1]) for e in nodes) == sorted(
        [(str(first), "fan swap"), (str(second), "firmware")])  # the third row did not change
    supplier = trail(demo, operator, object_type="suppliers", object_id="short-lived")
    assert [e.action for e in supplier] == [AuditAction.DELETE, AuditAction.CREATE]
    assert supplier[0].changes["display_name"] == ["x", None]

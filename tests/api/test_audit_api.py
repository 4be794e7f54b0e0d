"""The audit trail over HTTP: each change names the account, the token prefix and the client
address of the request that made it (set at the ASGI edge, so sync dependencies and endpoints in
worker threads see it), filters and exports, and tenant isolation."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

Http = tuple[TestClient, dict[str, str], str]


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo), client=("198.51.100.23", 50000)) as c:
        yield c, {"Authorization": f"Bearer {token}"}, token


def tenant(c: TestClient, op: dict[str, str], name: str) -> tuple[dict[str, str], str]:
    r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}, r.json()["token"]


def events(c: TestClient, h: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = c.get("/v1/audit", params={"limit": 500, **params}, headers=h)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_price_change_names_account_token_prefix_and_address(http: Http) -> None:
    c, op, token = http
    r = c.post("/v1/prices", json={"model": "H800", "amount": "120000", "unit": "p_year"}, headers=op)
    assert r.status_code == 201, r.text
    (e,) = events(c, op, object_type="prices", actor="operator")
    assert e["actor"] == "operator" and e["actor_role"] == "operator"
    assert e["token_prefix"] and token.startswith(e["token_prefix"])
    assert (e["address"], e["method"], e["path"]) == ("198.51.100.23", "POST", "/v1/prices")
    assert e["action"] == "create" and e["changes"]["amount"] == [None, "120000"]


def test_lease_ended_by_operator_shows_who_in_audit_and_lease_events(http: Http, clock: FakeClock) -> None:
    c, op, _ = http
    a, _ = tenant(c, op, "acme")
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=a)
    assert r.status_code == 201, r.text
    lease_id = r.json()["lease_id"]
    clock.advance(hours=1)
    r = c.post(f"/v1/leases/{lease_id}/end", json={"reason": "disk failure on the node"}, headers=op)
    assert r.status_code == 200, r.text
    update = [e for e in events(c, op, object_type="leases", object_id=lease_id) if e["action"] == "update"]
    assert [(e["actor"], e["changes"]["state"]) for e in update] == [("operator", ["active", "ended"])]
    assert update[0]["path"] == f"/v1/leases/{lease_id}/end"
    shown = c.get(f"/v1/leases/{lease_id}", headers=a).json()["events"]
    assert [(x["to_state"], x["actor"]) for x in shown] == [("active", "acme"), ("ended", "operator")]
    # the tenant sees the end of its own lease in its trail, with the operator as actor
    assert any(e["object_id"] == lease_id and e["actor"] == "operator" for e in events(c, a, object_type="leases"))


def test_invoice_issued_and_token_created_are_recorded(http: Http, clock: FakeClock) -> None:
    c, op, _ = http
    a, _ = tenant(c, op, "acme")
    lease_id = c.post("/v1/orders", json={"form": "gpu", "quantity": 1}, headers=a).json()["lease_id"]
    clock.advance(hours=2)
    assert c.post(f"/v1/leases/{lease_id}/end", headers=a).status_code == 200
    clock.set(datetime(2026, 12, 1, 2, tzinfo=UTC))
    r = c.post("/v1/billing/invoices", json={"tenant": "acme", "period": "2026-11"}, headers=op)
    assert r.status_code == 201, r.text
    inv = r.json()["id"]
    (e,) = events(c, op, object_type="invoices", object_id=inv, action="create")
    assert e["actor"] == "operator" and e["address"] == "198.51.100.23" and e["changes"]["period"] == [None, "2026-11"]
    r = c.post("/v1/accounts/acme/tokens", headers=op)
    assert r.status_code == 201, r.text
    minted = [x for x in events(c, op, object_type="api_tokens", action="create") if x["path"].endswith("/tokens")]
    assert minted and minted[0]["changes"]["token_hash"] == [None, "<secret>"]
    assert r.json()["token"] not in json.dumps(events(c, op))


def test_tenant_b_never_sees_tenant_a(http: Http) -> None:
    c, op, _ = http
    a, _ = tenant(c, op, "acme")
    b, _ = tenant(c, op, "beta")
    lease_a = c.post("/v1/orders", json={"form": "gpu", "quantity": 1}, headers=a).json()["lease_id"]
    lease_b = c.post("/v1/orders", json={"form": "gpu", "quantity": 1}, headers=b).json()["lease_id"]
    seen_b = json.dumps(events(c, b)) + c.get("/v1/audit/export", params={"format": "json"}, headers=b).text
    assert lease_b in seen_b and lease_a not in seen_b and "acme" not in seen_b
    assert c.get("/v1/audit", params={"tenant": "acme"}, headers=b).status_code == 404
    assert c.get("/v1/audit", params={"object_id": lease_a}, headers=b).json()["items"] == []
    assert {e["object_id"] for e in events(c, op, tenant="acme", object_type="leases")} == {lease_a}


def test_export_csv_and_json_parse_and_hold_the_rows(http: Http) -> None:
    c, op, _ = http
    c.post("/v1/prices", json={"model": "H800", "amount": "99000", "unit": "p_year"}, headers=op)
    listed = events(c, op)
    r = c.get("/v1/audit/export", params={"format": "csv"}, headers=op)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(int(x["id"]) for x in rows) == sorted(e["id"] for e in listed)
    price = next(x for x in rows if x["object_type"] == "prices" and x["actor"] == "operator")
    assert price["actor"] == "operator" and json.loads(price["changes"])["amount"] == [None, "99000"]
    r = c.get("/v1/audit/export", params={"format": "json", "object_type": "prices", "actor": "operator"}, headers=op)
    assert r.status_code == 200 and [d["object_type"] for d in r.json()] == ["prices"]


@pytest.mark.parametrize("params, needle", [
    ({"action": "rename"}, "allowed: create, update, delete"),
    ({"since": "2026-12-01T00:00:00"}, "has no time zone"),
    ({"since": "yesterday"}, "is not a date-time"),
    ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "until must be after since"),
    ({"format": "xml"}, "allowed: csv, json"),
])
def test_bad_filters_are_422_saying_what_is_allowed(http: Http, params: dict[str, str], needle: str) -> None:
    c, op, _ = http
    path = "/v1/audit/export" if "format" in params else "/v1/audit"
    r = c.get(path, params=params, headers=op)
    assert r.status_code == 422 and needle in r.json()["error"]["message"], r.text


def test_since_until_window(http: Http, clock: FakeClock) -> None:
    c, op, _ = http
    c.post("/v1/prices", json={"model": "H800", "amount": "1000", "unit": "p_year"}, headers=op)
    cut = clock.now()
    clock.advance(hours=1)
    c.post("/v1/prices", json={"model": "H800", "amount": "2000", "unit": "p_year"}, headers=op)
    later = events(c, op, object_type="prices", actor="operator", since=cut.replace(minute=1).isoformat())
    assert [e["changes"]["amount"][1] for e in later] == ["2000"]
    earlier = events(c, op, object_type="prices", actor="operator", until=cut.replace(minute=1).isoformat())
    assert [e["changes"]["amount"][1] for e in earlier] == ["1000"]


def test_concurrent_requests_each_record_their_own_actor(http: Http) -> None:
    """Requests of two tenants in flight at once (sync endpoints on worker threads): every recorded
    order names the tenant that placed it, never the other."""
    from concurrent.futures import ThreadPoolExecutor

    c, op, _ = http
    heads = {name: tenant(c, op, name)[0] for name in ("acme", "beta")}

    def place(name: str) -> tuple[str, str]:
        r = c.post("/v1/orders", json={"form": "slice", "share_pct": 10, "memory_mib": 1024}, headers=heads[name])
        assert r.status_code == 201, r.text
        return name, r.json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        placed = list(pool.map(place, ["acme", "beta"] * 8))
    recorded = {e["object_id"]: e["actor"] for e in events(c, op, object_type="orders", action="create")}
    assert {order: recorded[order] for _, order in placed} == {order: name for name, order in placed}

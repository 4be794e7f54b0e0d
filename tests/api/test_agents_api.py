"""Node agents' identity through the API (SQLite and PostgreSQL): join tokens, join, heartbeat,
approve, revoke, list/show with health derived from the last heartbeat; and the issue's bad input:
a reused or expired join token, an agent claiming another node, impossible telemetry, devices that
disagree with the fleet. Each is refused with a clear error, written to the audit trail, and
changes nothing about the node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NODE = "nx-910b-03"  # xibu-compute's, 8 devices
OTHER = "nx-910b-04"
HUADONG = "sh-h800-01"  # huadong-idc's


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def devices(n: int = 8) -> list[dict[str, Any]]:
    return [{"index": i, "name": "Ascend-910B", "uuid": f"npu-{i}", "memory_total_mib": 65536} for i in range(n)]


def make_token(c: TestClient, h: dict[str, str], node: str = NODE, **extra: Any) -> str:
    r = c.post("/v1/agents/join-tokens", json={"node": node, **extra}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["token"].startswith("slj_") and len(r.json()["token"]) == 36
    return str(r.json()["token"])


def join_body(token: str, node: str = NODE, n: int = 8, boot: str = "boot-1") -> dict[str, Any]:
    return {"token": token, "node": node, "agent_id": "install-1", "boot_id": boot, "version": "0.1",
            "backend": "npu-smi", "devices": devices(n)}


def join(c: TestClient, h: dict[str, str], node: str = NODE, **extra: Any) -> dict[str, str]:
    r = c.post("/v1/agents/join", json=join_body(make_token(c, h, node, **extra), node))
    assert r.status_code == 201, r.text
    assert r.json()["credential"].startswith("sln_") and len(r.json()["credential"]) == 44
    return {"Authorization": f"Bearer {r.json()['credential']}"}


def beat(c: TestClient, cred: dict[str, str], node: str = NODE, **body: Any) -> Any:
    return c.post(f"/v1/agents/{node}/heartbeat", json={"boot_id": "boot-1", "devices": [], **body}, headers=cred)


def agent(c: TestClient, h: dict[str, str], node: str = NODE) -> dict[str, Any]:
    r = c.get(f"/v1/agents/{node}", headers=h)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def refusals(c: TestClient, h: dict[str, str], node: str = NODE, *, actor: str | None = None) -> list[str]:
    r = c.get("/v1/audit", params={"object_type": "agent_refusals", "object_id": node}, headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert all(e["actor_role"] == "agent" and e["action"] == "create" for e in items)
    return [e["changes"]["refused"][1] for e in items if actor is None or e["actor"] == actor]


def account(c: TestClient, op: dict[str, str], name: str, role: str = "tenant", supplier: str | None = None
            ) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_join_approve_heartbeat_and_health(http: tuple[TestClient, dict[str, str]], clock: FakeClock) -> None:
    c, op = http
    cred = join(c, op)
    a = agent(c, op)
    assert (a["state"], a["health"], a["health_reason"]) == ("pending", "down", "agent awaiting approval")
    assert a["backend"] == "npu-smi" and len(a["devices"]) == 8 and a["site"] and a["region"]
    r = beat(c, cred)  # a pending agent heartbeats but gets no work
    assert r.status_code == 200 and r.json()["state"] == "pending" and r.json()["work"] == 0, r.text
    r = c.post(f"/v1/agents/{NODE}/approve", headers=op)
    assert r.status_code == 200 and r.json()["state"] == "approved" and r.json()["health"] == "up", r.text
    telemetry = [{"index": 0, "name": "Ascend-910B", "uuid": "npu-0", "utilisation_pct": 37, "memory_used_mib": 1024,
                  "memory_total_mib": 65536, "power_w": "212.5", "temperature_c": 51, "errors": 0,
                  "energy_kwh": "12.25", "at": "2026-11-02T10:00:00Z"}]
    r = beat(c, cred, rtt_ms="1.3", devices=telemetry)
    body = r.json()
    assert r.status_code == 200 and body["state"] == "approved", r.text
    assert body["heartbeat_s"] == 5 and body["fence_s"] == 20 and isinstance(body["work"], int)
    a = agent(c, op)
    assert a["rtt_ms"] == "1.3" and a["health"] == "up"
    assert a["telemetry"][0]["power_w"] == "212.5" and a["telemetry"][0]["utilisation_pct"] == 37
    clock.advance(16)
    a = agent(c, op)
    assert (a["health"], a["health_reason"]) == ("suspect", "suspect: no heartbeat for 16 s")
    clock.advance(15)
    a = agent(c, op)
    assert (a["health"], a["health_reason"]) == ("down", "agent: no heartbeat for 31 s (grace 30 s)")
    assert beat(c, cred).status_code == 200
    assert agent(c, op)["health"] == "up"
    assert [x["node"] for x in c.get("/v1/agents", headers=op).json()] == [NODE]


def test_a_reused_join_token_is_refused_audited_and_changes_nothing(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    token = make_token(c, op)
    r = c.post("/v1/agents/join", json=join_body(token))
    assert r.status_code == 201, r.text
    cred = {"Authorization": f"Bearer {r.json()['credential']}"}
    before = agent(c, op)
    again = c.post("/v1/agents/join", json=join_body(token, boot="boot-2"))
    assert again.status_code == 401 and "already used at" in again.json()["error"]["message"], again.text
    assert agent(c, op) == before  # same credential, same boot id, nothing changed
    assert beat(c, cred).status_code == 200  # the first credential still works
    assert any("already used at" in x for x in refusals(c, op))


def test_an_expired_join_token_is_refused(http: tuple[TestClient, dict[str, str]], clock: FakeClock) -> None:
    c, op = http
    token = make_token(c, op, ttl_s=60)
    clock.advance(61)
    r = c.post("/v1/agents/join", json=join_body(token))
    assert r.status_code == 401 and "expired at" in r.json()["error"]["message"], r.text
    a = agent(c, op)
    assert a["state"] == "awaiting_join" and a["credential_prefix"] == "" and a["joined_at"] is None
    assert any("expired at" in x for x in refusals(c, op))
    for bad in (59, 7 * 86400 + 1):
        r = c.post("/v1/agents/join-tokens", json={"node": NODE, "ttl_s": bad}, headers=op)
        assert r.status_code == 422 and "ttl_s" in r.text, r.text


def test_an_agent_claiming_another_node_is_refused(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    cred = join(c, op, NODE)
    join(c, op, OTHER)
    before = agent(c, op, OTHER)
    r = beat(c, cred, OTHER, rtt_ms="2")
    assert r.status_code == 403, r.text
    assert r.json()["error"]["message"] == f"credential of node {NODE} cannot act for node {OTHER}"
    assert agent(c, op, OTHER) == before
    assert any(f"cannot act for node {OTHER}" in x for x in refusals(c, op, OTHER, actor=f"agent:{NODE}"))
    # a join token of one node cannot join another
    token = make_token(c, op, NODE)
    r = c.post("/v1/agents/join", json=join_body(token, OTHER))
    assert r.status_code == 403 and f"is for node {NODE}, not {OTHER}" in r.text, r.text
    assert agent(c, op, OTHER) == before
    # an account token is no node credential, and a node credential no account token
    assert beat(c, op).status_code == 401
    assert c.get("/v1/me", headers=cred).status_code == 401
    assert beat(c, {"Authorization": "Bearer sln_not-a-credential"}).status_code == 401


@pytest.mark.parametrize(("figure", "value", "allowed"), [
    ("power_w", "-1", "0 to 5000"), ("utilisation_pct", 101, "0 to 100"), ("temperature_c", 200, "-40 to 150"),
    ("errors", -3, "0 to"), ("energy_kwh", "-0.5", "0 to"),
])
def test_impossible_telemetry_is_refused_and_nothing_is_stored(http: tuple[TestClient, dict[str, str]],
                                                               clock: FakeClock, figure: str, value: Any,
                                                               allowed: str) -> None:
    c, op = http
    cred = join(c, op, approve=True)
    before = agent(c, op)
    clock.advance(3)
    r = beat(c, cred, rtt_ms="9", boot_id="boot-9", devices=[{"index": 0, "utilisation_pct": 5, figure: value}])
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert figure in message and allowed in message, message
    after = agent(c, op)
    assert after == before and after["telemetry"] == []  # not even last seen, RTT or boot id
    assert any(figure in x and allowed in x for x in refusals(c, op))


def test_telemetry_of_a_device_the_node_does_not_have_is_refused(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    cred = join(c, op, approve=True)
    before = agent(c, op)
    r = beat(c, cred, devices=[{"index": 8, "utilisation_pct": 5}])
    assert r.status_code == 422 and "index 8 is not a device of node nx-910b-03; allowed: 0 to 7" in r.text, r.text
    r = beat(c, cred, devices=[{"index": 1}, {"index": 1}])
    assert r.status_code == 422 and "repeated" in r.text, r.text
    assert agent(c, op) == before
    assert len(refusals(c, op)) == 2


def test_devices_that_disagree_with_the_fleet_are_refused(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    token = make_token(c, op)
    r = c.post("/v1/agents/join", json=join_body(token, n=4))
    assert r.status_code == 422, r.text
    assert "detected 4 device(s) but the fleet's node nx-910b-03 has 8" in r.json()["error"]["message"]
    assert agent(c, op)["state"] == "awaiting_join"
    assert c.post("/v1/agents/join", json=join_body(token)).status_code == 201  # the token was not used up


def test_suppliers_and_tenants(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    sup = account(c, op, "xibu-ops", "supplier", "xibu-compute")
    join(c, sup, NODE)  # a supplier lets an agent join its own node
    join(c, op, HUADONG)
    assert c.post("/v1/agents/join-tokens", json={"node": HUADONG}, headers=sup).status_code == 404
    r = c.post("/v1/agents/join-tokens", json={"node": NODE, "approve": True}, headers=sup)
    assert r.status_code == 403 and "only the operator may pre-approve" in r.text, r.text
    assert [a["node"] for a in c.get("/v1/agents", headers=sup).json()] == [NODE]
    assert c.get(f"/v1/agents/{HUADONG}", headers=sup).status_code == 404
    assert c.post(f"/v1/agents/{NODE}/approve", headers=sup).status_code == 403
    assert {a["node"] for a in c.get("/v1/agents", headers=op).json()} == {NODE, HUADONG}
    tenant = account(c, op, "acme")
    assert c.get("/v1/agents", headers=tenant).status_code == 403
    assert c.post("/v1/agents/join-tokens", json={"node": NODE}, headers=tenant).status_code == 403
    assert c.post("/v1/agents/join-tokens", json={"node": "no-such-node"}, headers=op).status_code == 404


def test_revoke_and_rejoin(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    cred = join(c, op, approve=True)
    assert agent(c, op)["state"] == "approved"
    r = c.post(f"/v1/agents/{NODE}/revoke", headers=op)
    assert r.status_code == 200 and (r.json()["state"], r.json()["health_reason"]) == ("revoked", "agent revoked")
    r = beat(c, cred)
    assert r.status_code == 403 and "revoked" in r.text, r.text
    r = c.post(f"/v1/agents/{NODE}/approve", headers=op)
    assert r.status_code == 409 and "join again" in r.text, r.text
    new = join(c, op)  # a new join token brings it back, pending, with a new credential
    assert agent(c, op)["state"] == "pending"
    assert beat(c, cred).status_code == 401  # the old credential stopped working
    assert beat(c, new).status_code == 200
    assert c.post("/v1/agents/no-such-node/approve", headers=op).status_code == 404

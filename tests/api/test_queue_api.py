"""The order queue over HTTP (docs/queue.md): who may see and change what (the attacks first), a
queued order answers 202 with its place, "when?" answers from the calendar, bad input is a 422
naming the field with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H = dict[str, str]
A800_SERVER = {"form": "server", "models": ["A800"], "hours": 1}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, H, H, H]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        op = {"Authorization": f"Bearer {token}"}
        heads = []
        for name in ("acme", "beta"):
            r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
            assert r.status_code == 201, r.text
            heads.append({"Authorization": f"Bearer {r.json()['token']}"})
        yield c, op, heads[0], heads[1]


def _full(c: TestClient, t: H) -> None:
    for _ in range(2):
        r = c.post("/v1/orders", json=A800_SERVER, headers=t)
        assert r.status_code == 201, r.text


def _until(clock: FakeClock, hours: int = 4) -> str:
    return (clock.now() + timedelta(hours=hours)).isoformat()


def test_a_tenant_cannot_set_weights_nor_see_anothers_queue(http: tuple[TestClient, H, H, H],
                                                            clock: FakeClock) -> None:
    c, op, a, b = http
    r = c.put("/v1/queue/weights", json={"tenant": "acme", "weight": "100", "allow_high": True}, headers=a)
    assert r.status_code == 403, r.text
    assert c.get("/v1/queue/weights", headers=a).status_code == 403
    assert c.get("/v1/queue/weights", headers=op).json() == []  # nothing was written
    # nor can it give itself priority high through an order
    _full(c, b)
    r = c.post("/v1/orders", json={**A800_SERVER, "wait_until": _until(clock), "priority": "high"}, headers=a)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "priority", r.text
    r = c.post("/v1/orders", json={**A800_SERVER, "wait_until": _until(clock)}, headers=a)
    assert r.status_code == 202, r.text
    mine = r.json()["id"]
    assert c.get("/v1/queue", headers=b).json() == []  # beta sees none of acme's
    assert [e["order_id"] for e in c.get("/v1/queue", headers=op).json()] == [mine]
    r = c.post(f"/v1/orders/{mine}/cancel", headers=b)
    assert r.status_code == 404, r.text
    assert [e["order_id"] for e in c.get("/v1/queue", headers=a).json()] == [mine]


def test_queued_order_answers_202_with_position_and_when(http: tuple[TestClient, H, H, H], clock: FakeClock) -> None:
    c, _op, a, b = http
    _full(c, b)
    asked = c.post("/v1/orders/when", json={"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 1}, headers=a)
    assert asked.status_code == 200, asked.text
    start = (clock.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert asked.json()["answer"] != "now" and asked.json()["start"] == start
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 1,
                                   "wait_until": _until(clock)}, headers={**a, "Idempotency-Key": "q-1"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued" and body["lease_id"] is None
    assert body["queue"]["position"] == 1 and body["queue"]["estimated_start"] == start
    again = c.post("/v1/orders", json={"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 1,
                                       "wait_until": _until(clock)}, headers={**a, "Idempotency-Key": "q-1"})
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["replayed"]
    now_ok = c.post("/v1/orders/when", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=a)
    assert now_ok.json()["answer"] == "now" and now_ok.json()["now"]
    r = c.post("/v1/orders/when", json={"form": "gpu", "quantity": 1, "models": ["L20"], "start": _until(clock, 1)},
               headers=a)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "start", r.text
    r = c.post("/v1/orders/when", json={"form": "gpu", "quantity": 9, "models": ["A800"]}, headers=a)
    assert r.status_code == 422 and "no node can hold 9" in r.text  # never fits: the order's own 422
    r = c.post(f"/v1/orders/{body['id']}/cancel", headers=a)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert c.get("/v1/queue", headers=a).json() == []


def test_operator_sets_weights(http: tuple[TestClient, H, H, H]) -> None:
    c, op, _a, _b = http
    r = c.put("/v1/queue/weights", json={"tenant": "acme", "weight": "2"}, headers=op)
    assert r.status_code == 200 and r.json()["weight"] == "2" and r.json()["allow_high"] is False, r.text
    r = c.put("/v1/queue/weights", json={"tenant": "acme", "weight": "3", "allow_high": True}, headers=op)
    assert r.json()["allow_high"] is True
    assert [(w["tenant"], w["weight"]) for w in c.get("/v1/queue/weights", headers=op).json()] == [("acme", "3")]


@pytest.mark.parametrize(("change", "says"), [
    ({"weight": "0"}, "weight"), ({"weight": "NaN"}, "weight"), ({"weight": "1e9"}, "weight"),
    ({"tenant": "nobody"}, "nobody"), ({"tenant": "operator"}, "no tenant account"),
])
def test_bad_weights_are_4xx_and_nothing_is_written(http: tuple[TestClient, H, H, H], change: dict[str, str],
                                                    says: str) -> None:
    c, op, _a, _b = http
    r = c.put("/v1/queue/weights", json={"tenant": "acme", "weight": "2", **change}, headers=op)
    assert r.status_code in (404, 422), r.text
    assert says in r.json()["error"]["message"]
    assert c.get("/v1/queue/weights", headers=op).json() == []


@pytest.mark.parametrize(("change", "field"), [
    ({"wait_until": "2020-01-01T00:00:00Z"}, "wait_until"),
    ({"wait_until": "2099-01-01T00:00:00Z"}, "wait_until"),
    ({"wait_until": "soon"}, "wait_until"),
    ({"priority": "urgent"}, "priority"),
    ({"start": "FUTURE", "wait_until": "FUTURE"}, "wait_until"),
])
def test_bad_queue_fields_are_422_naming_the_field(http: tuple[TestClient, H, H, H], clock: FakeClock,
                                                   change: dict[str, str], field: str) -> None:
    c, _op, a, _b = http
    body = {**A800_SERVER, **{k: (_until(clock, 2) if v == "FUTURE" else v) for k, v in change.items()}}
    r = c.post("/v1/orders", json=body, headers=a)
    assert r.status_code == 422, r.text
    assert field in r.text
    assert c.get("/v1/orders", headers=a).json()["items"] == []


def test_ending_a_lease_places_the_queued_order_at_once(http: tuple[TestClient, H, H, H], clock: FakeClock) -> None:
    c, _op, a, b = http
    held = [c.post("/v1/orders", json=A800_SERVER, headers=b).json()["lease_id"] for _ in range(2)]
    r = c.post("/v1/orders", json={**A800_SERVER, "wait_until": _until(clock)}, headers=a)
    assert r.status_code == 202, r.text
    clock.advance(seconds=90)
    r = c.post(f"/v1/leases/{held[0]}/end", headers=b)
    assert r.status_code == 200, r.text
    (got,) = c.get("/v1/orders", headers=a).json()["items"]
    assert got["status"] == "fulfilled" and got["lease_id"]
    lease = c.get(f"/v1/leases/{got['lease_id']}", headers=a).json()
    assert lease["state"] == "active" and lease["start"] == lease["activated_at"]
    assert lease["start"].startswith(clock.now().isoformat()[:19])  # granted when the capacity freed
    assert c.get("/v1/queue", headers=a).json() == []

"""Custom shapes over HTTP: resource prices (operator sets, everyone reads; bad input a 422 naming the
field, nothing written), a shaped order with its quote lines, a CPU-only instance, and a shape no node
holds (422 with the largest figure)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        op = {"Authorization": f"Bearer {token}"}
        r = c.post("/v1/accounts", json={"name": "shaper", "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        yield c, op, {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.mark.parametrize(("body", "says"), [
    ({"resource": "gpu_hour", "amount": "1"}, "allowed: cpu_core_hour, ram_gib_hour, nic_gbps_hour, disk_gib_month"),
    ({"resource": "cpu_core_hour", "amount": 0.1}, "not a float"),
    ({"resource": "cpu_core_hour", "amount": "-1"}, "> 0"),
    ({"resource": "cpu_core_hour", "amount": "1", "effective_from": "2026-11-01T00:00:00Z"}, "is in the past"),
    ({"resource": "cpu_core_hour", "amount": "1", "currency": "USD"}, "operator's"),
    ({"resource": "cpu_core_hour", "amount": "1", "rate": "1"}, ""),
])
def test_bad_resource_prices_are_422s_and_nothing_is_written(http, body: dict[str, object], says: str) -> None:  # type: ignore[no-untyped-def]
    c, op, _tenant = http
    before = c.get("/v1/resource-prices", headers=op).json()
    r = c.post("/v1/resource-prices", json=body, headers=op)
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]["message"]
    assert c.get("/v1/resource-prices", headers=op).json() == before


def test_prices_set_by_the_operator_price_a_shaped_order(http) -> None:  # type: ignore[no-untyped-def]
    c, op, tenant = http
    assert c.post("/v1/resource-prices", json={"resource": "cpu_core_hour", "amount": "0.12"},
                  headers=tenant).status_code == 403
    r = c.post("/v1/resource-prices", json={"resource": "cpu_core_hour", "amount": "0.12"}, headers=op)
    assert r.status_code == 201, r.text
    assert r.json()["unit"] == "core-hour" and r.json()["site"] is None
    assert [x["resource"] for x in c.get("/v1/resource-prices", headers=tenant).json()] == ["cpu_core_hour"]
    body = {"form": "gpu", "models": ["L20"], "cpu_cores": 12, "ram_gib": 16, "hours": 2}
    quote = c.post("/v1/quotes", json=body, headers=tenant)
    assert quote.status_code == 200, quote.text
    res = c.post("/v1/orders", json=body, headers=tenant)
    assert res.status_code == 201, res.text
    assert res.json()["spec"]["cpu_cores"] == 12
    lease = c.get(f"/v1/leases/{res.json()['lease_id']}", headers=tenant).json()
    for q in (quote.json(), res.json()["quote"], lease["quote"]):  # 12 - 8 cores x 0.12 x 2 h
        cpu = [x for x in q["lines"] if x["basis"] == "resource"]
        assert [(x["model"], x["devices"], x["term_total"]) for x in cpu] == [("cpu_core_hour", "4", "0.96")]


def test_a_cpu_instance_and_a_shape_no_node_holds(http) -> None:  # type: ignore[no-untyped-def]
    c, _op, tenant = http
    r = c.post("/v1/orders", json={"form": "cpu", "cpu_cores": 2, "ram_gib": 4}, headers=tenant)
    assert r.status_code == 201, r.text
    assert r.json()["form"] == "cpu" and r.json()["status"] == "fulfilled"
    r = c.post("/v1/orders", json={"form": "cpu", "cpu_cores": 500, "ram_gib": 4}, headers=tenant)
    assert r.status_code == 422 and "the largest has 192 cores" in r.json()["error"]["message"]
    r = c.post("/v1/orders", json={"form": "cpu", "cpu_cores": 2}, headers=tenant)
    assert r.status_code == 422 and "ram_gib" in r.json()["error"]["message"]
    r = c.post("/v1/orders", json={"form": "server", "cpu_cores": 2}, headers=tenant)
    assert r.status_code == 422 and "whole nodes" in r.json()["error"]["message"]
    r = c.post("/v1/orders", json={"form": "gpu", "cpu_cores": 2.5}, headers=tenant)
    assert r.status_code == 422 and "cpu_cores" in r.json()["error"]["message"]

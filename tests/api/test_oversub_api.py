"""Oversubscription over HTTP: who may set a factor (the attack first), bad factors are 422s naming the
range with nothing written, a burstable order says what it is and what it costs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform

H = dict[str, str]


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, H, H]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        op = {"Authorization": f"Bearer {token}"}
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        yield c, op, {"Authorization": f"Bearer {r.json()['token']}"}


FACTOR = {"site": "sz-edge-1", "model": "L20", "factor": "2", "discount_pct": "25"}


def test_a_tenant_cannot_set_a_factor_or_read_the_pool(http: tuple[TestClient, H, H]) -> None:
    c, op, t = http
    r = c.post("/v1/oversub", json=FACTOR, headers=t)
    assert r.status_code == 403, r.text
    assert c.get("/v1/oversub", headers=t).status_code == 403
    assert c.get("/v1/oversub", headers=op).json()["history"] == []  # nothing was written
    # nor through an order: a tenant's order carries no factor or discount
    r = c.post("/v1/orders", json={"form": "slice", "share_pct": 50, "memory_mib": 1024, "slice_class": "burstable",
                                   "discount_pct": "90"}, headers=t)
    assert r.status_code == 422 and "sets no price, discount or rate" in r.json()["error"]["message"]


@pytest.mark.parametrize(("change", "says"), [
    ({"factor": "0.5"}, "factor"), ({"factor": "0.99"}, "factor"), ({"factor": "100"}, "factor"),
    ({"factor": "4.001"}, "factor"), ({"factor": "NaN"}, "factor"), ({"factor": None}, "factor"),
    ({"discount_pct": "0"}, "discount_pct"), ({"discount_pct": "95"}, "discount_pct"),
    ({"site": "nowhere"}, "sites: nx-west-1, sh-east-1, sz-edge-1"), ({"model": "Z9"}, "unknown model"),
    ({"offered": "maybe"}, "offered"), ({"extra": 1}, "unknown field"),
])
def test_bad_factors_are_422s_and_nothing_is_written(http: tuple[TestClient, H, H], change: dict[str, object],
                                                      says: str) -> None:
    c, op, _t = http
    r = c.post("/v1/oversub", json={**FACTOR, **change}, headers=op)
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]["message"]
    assert c.get("/v1/oversub", headers=op).json()["history"] == []


def test_range_is_named(http: tuple[TestClient, H, H]) -> None:
    c, op, _t = http
    msg = c.post("/v1/oversub", json={**FACTOR, "factor": "9"}, headers=op).json()["error"]["message"]
    assert "4" in msg


def test_a_burstable_order_says_so(http: tuple[TestClient, H, H]) -> None:
    c, op, t = http
    r = c.post("/v1/oversub", json=FACTOR, headers=op)
    assert r.status_code == 201, r.text
    assert r.json()["set_by"] == "operator" and r.json()["factor"] == "2"
    offers = c.get("/v1/oversub/offers", headers=t).json()
    assert offers == [{"site": "sz-edge-1", "model": "L20", "discount_pct": "25",
                       "note": "burstable: may be slowed when neighbours are busy; priced 25 % lower"}]
    r = c.post("/v1/orders", json={"form": "slice", "share_pct": 50, "memory_mib": 4096, "models": ["L20"],
                                   "slice_class": "burstable"}, headers=t)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["spec"]["slice_class"] == "burstable"
    assert "priced 25 % lower" in body["quote"]["note"]
    (line,) = body["quote"]["lines"]
    assert line["basis"] == "burstable"
    assert Decimal(line["devices"]) == Decimal("0.375")  # 0.5 sold x 0.75
    assert Decimal(body["quote"]["hourly"]) == Decimal("0.375") * Decimal("2.60")
    lease = c.get(f"/v1/leases/{body['lease_id']}", headers=t).json()
    (a,) = lease["allocations"]
    assert (a["milli"], a["sold_milli"]) == (250, 500)
    assert Decimal(lease["devices"]) == Decimal("0.5")
    pool = c.get("/v1/oversub", headers=op).json()
    assert pool["pools"][0]["sold_compute_milli"] == 500 and pool["pools"][0]["charged_milli"] == 250
    # a burstable slice where none is offered: 422 naming where they are
    r = c.post("/v1/orders", json={"form": "slice", "share_pct": 50, "memory_mib": 4096, "models": ["H800"],
                                   "slice_class": "burstable"}, headers=t)
    assert r.status_code == 422 and "L20 at sz-edge-1" in r.json()["error"]["message"]

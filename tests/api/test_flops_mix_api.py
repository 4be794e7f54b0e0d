"""P of compute across models over HTTP (SQLite and PostgreSQL): a 12 P order granted as a mix, with
the reason and a quote line per (model, site); ``POST /v1/quotes`` prices the same mix and writes
nothing; a refusal is a 409 naming the largest block; what can never fit is a 422 on ``p``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def account(c: TestClient, op: dict[str, str], name: str) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_mixed_flops_order_over_http(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    acme, beta = account(c, op, "acme"), account(c, op, "beta")
    for _ in range(3):
        assert c.post("/v1/orders", json={"form": "server", "models": ["H800"]}, headers=beta).status_code == 201
    doc = {"form": "flops", "p": "12", "topology": "any", "hours": 4}
    leases_before = len(c.get("/v1/leases", headers=acme).json()["items"])
    q = c.post("/v1/quotes", json=doc, headers=acme)
    assert q.status_code == 200, q.text
    assert len(c.get("/v1/leases", headers=acme).json()["items"]) == leases_before  # a quote writes nothing
    r = c.post("/v1/orders", json=doc, headers=acme)
    assert r.status_code == 201, r.text
    lease = c.get(f"/v1/leases/{r.json()['lease_id']}", headers=acme).json()
    assert Counter(a["model"] for a in lease["allocations"]) == {"Ascend-910B": 31, "H800": 2, "RTX-4090": 2}
    assert lease["placement"].startswith("flops 12 P -> 31 x Ascend-910B at nx-west-1 (9.703 P, 6.85/P-hour) + "
                                         "2 x H800 at sh-east-1")
    lines = {(x["model"], x["site"]): Decimal(x["devices"]) for x in r.json()["quote"]["lines"]}
    assert lines == {("Ascend-910B", "nx-west-1"): 31, ("H800", "sh-east-1"): 2, ("RTX-4090", "sz-edge-1"): 2}
    assert q.json()["lines"] == r.json()["quote"]["lines"]  # the would-be quote priced the same mix
    assert Decimal(r.json()["quote"]["term_total"]) == Decimal(q.json()["term_total"])


def test_flops_refusals_over_http(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    acme = account(c, op, "acme")
    r = c.post("/v1/orders", json={"form": "flops", "p": "50"}, headers=acme)
    assert r.status_code == 422, r.text
    assert "the largest has 31.6608 P (32 x H800 in fabric sh-east-1/ib-a)" in r.text and '"p"' in r.text
    assert c.post("/v1/orders", json={"form": "flops", "p": "30", "topology": "fabric"},
                  headers=acme).status_code == 201
    r = c.post("/v1/orders", json={"form": "flops", "p": "12", "topology": "fabric"}, headers=acme)
    assert r.status_code == 409, r.text
    assert "the largest free block one fabric offers is 10.016 P (32 x Ascend-910B in fabric nx-west-1/roce-a)" \
        in r.text
    assert "largest free block: 0" not in r.text

"""Package products over HTTP on SQLite and PostgreSQL: exact wire types (no floats, whole counts), the
errors a user sees, and who sees what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_money_api import Http, account

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform

PRODUCT = {"name": "L20 5 h", "meter": "device_seconds", "model": "L20", "quantity": "5", "price": "10.00",
           "valid_days": 30}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def _error(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    message: str = r.json()["error"]["message"]
    return message


@pytest.mark.parametrize(("change", "said"), [
    ({"price": 0.01}, "a float is never exact"),
    ({"quantity": 1000.5}, "a float is never exact"),
    ({"price": "abc"}, "price"),
    ({"price": "1e10"}, "above the largest allowed"),
    ({"valid_days": 30.0}, "valid_days"),
    ({"tiers": [{"min_count": 10, "price": 9.5}]}, "a float is never exact"),
    ({"discount": "0.5"}, "allowed fields: name, meter, quantity"),
])
def test_a_product_with_bad_wire_values_is_a_422(http: Http, change: dict[str, Any], said: str) -> None:
    c, op = http
    assert said in _error(c.post("/v1/package-products", json=PRODUCT | change, headers=op), 422)
    assert c.get("/v1/package-products", params={"include_retired": True}, headers=op).json() == []


def test_buying_over_http(http: Http) -> None:
    c, op = http
    t = account(c, op, "acme")
    sup = account(c, op, "east", "supplier", "huadong-idc")
    prod = c.post("/v1/package-products", json=PRODUCT | {"tiers": [{"min_count": 10, "price": "9"}]}, headers=op)
    assert prod.status_code == 201 and prod.json()["tiers"] == [{"min_count": 10, "price": "9"}]
    for who in (t, sup, op):
        assert [x["name"] for x in c.get("/v1/package-products", headers=who).json()] == ["L20 5 h"]
    for count, said in ((2.0, "count"), ("2", "count"), (0, "from 1 to 10000"), (10**6, "from 1 to 10000"),
                        (True, "give a whole number")):
        assert said in _error(c.post("/v1/packages", json={"product": "L20 5 h", "count": count}, headers=t), 422)
    assert "no package product" in _error(c.post("/v1/packages", json={"product": "nope"}, headers=t), 404)
    assert "sells a package" in _error(c.post("/v1/packages", json={"product": "L20 5 h"}, headers=op), 403)
    r = c.post("/v1/packages", json={"product": prod.json()["id"], "count": 10}, headers=t)
    assert r.status_code == 201 and r.json()["price"] == "90" and r.json()["quantity"] == "50"
    r = c.put("/v1/package-products/L20%205%20h/price", json={"price": "12", "tiers": []}, headers=op)
    assert r.status_code == 200 and r.json()["price"] == "12" and r.json()["tiers"] == []
    assert [x["price"] for x in c.get("/v1/packages", headers=t).json()] == ["90"]  # bought: its price kept
    sale = c.post("/v1/packages/sales", json={"tenant": "acme", "product": "L20 5 h", "price": "8",
                                              "reason": ""}, headers=op)
    assert "needs a reason" in _error(sale, 422)
    assert c.post("/v1/package-products/L20%205%20h/retire", headers=op).json()["state"] == "retired"
    assert "retired" in _error(c.post("/v1/packages", json={"product": "L20 5 h"}, headers=t), 409)


def test_dates_without_a_zone_are_a_422_never_a_500(http: Http) -> None:
    """One rule for instants on every route (docs/api.md "Input rules"): a time zone is required."""
    c, op = http
    account(c, op, "acme")
    r = c.post("/v1/package-products", json=PRODUCT | {"valid_days": None, "valid_from": "2026-11-01T00:00:00",
                                                      "valid_to": "2027-01-01T00:00:00"}, headers=op)
    assert "valid_from: has no time zone" in _error(r, 422)
    assert c.get("/v1/package-products", headers=op).json() == []
    r = c.post("/v1/package-products", json=PRODUCT | {"valid_days": None, "valid_from": "2026-11-01T00:00:00Z",
                                                      "valid_to": "2027-01-01T00:00:00+00:00"}, headers=op)
    assert r.status_code == 201, r.text
    assert r.json()["valid_to"].startswith("2027-01-01T00:00:00") and r.json()["valid_to"].endswith(("Z", "+00:00"))
    r = c.post("/v1/package-products", json=PRODUCT | {"name": "gone", "valid_days": None,
                                                      "valid_from": "2026-01-01T00:00:00Z",
                                                      "valid_to": "2026-02-01T00:00:00Z"}, headers=op)
    assert "not in the future" in _error(r, 422)
    r = c.post("/v1/packages/sales", json={"tenant": "acme", "reason": "pilot", "meter": "egress_gb",
                                           "quantity": "100", "price": "5", "expires_at": "2027-01-01T00:00:00"},
               headers=op)
    assert "expires_at: has no time zone" in _error(r, 422)
    r = c.post("/v1/packages/sales", json={"tenant": "acme", "reason": "pilot", "meter": "egress_gb",
                                           "quantity": "100", "price": "5", "expires_at": "2027-01-01T00:00:00Z"},
               headers=op)
    assert r.status_code == 201, r.text

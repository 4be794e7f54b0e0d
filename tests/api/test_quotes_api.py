"""Price quotes over HTTP: the order answers its quote (both units, the term total), the lease shows
``pricing`` (to its tenant and the operator, never to a supplier), ``POST /v1/quotes`` prices a
would-be order and writes nothing, and no order can carry a price (a 422, nothing written)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H800_LIST = (Decimal(90000) * Decimal("0.9894") / 8760).quantize(Decimal("1e-12"))


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def account(c: TestClient, op: dict[str, str], name: str, role: str = "tenant", supplier: str | None = None
            ) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def counts(c: TestClient, h: dict[str, str]) -> tuple[int, int]:
    return (len(c.get("/v1/orders", headers=h).json()["items"]), len(c.get("/v1/leases", headers=h).json()["items"]))


def test_order_answers_its_quote_and_the_lease_shows_it(http: tuple[TestClient, dict[str, str]],
                                                        clock: FakeClock) -> None:
    c, op = http
    a = account(c, op, "acme")
    east = account(c, op, "east-ops", "supplier", "huadong-idc")
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["H800"], "hours": 10}, headers=a)
    assert r.status_code == 201, r.text
    quote = r.json()["quote"]
    assert (quote["pricing"], quote["currency"]) == ("quoted", "CNY")
    (line,) = quote["lines"]
    assert (line["model"], Decimal(line["devices"]), Decimal(line["device_hour"])) == ("H800", 2, H800_LIST)
    assert abs(Decimal(line["p_year"]) - 90000) < Decimal("1e-6") and line["basis"] == "list"
    assert Decimal(quote["hourly"]) == 2 * H800_LIST
    assert Decimal(quote["term_total"]) == (20 * H800_LIST).quantize(Decimal("0.01"))
    lease_id = r.json()["lease_id"]
    lease = c.get(f"/v1/leases/{lease_id}", headers=a).json()
    assert lease["pricing"] == "quoted" and lease["quote"] == quote
    assert c.get(f"/v1/leases/{lease_id}", headers=op).json()["quote"] == quote
    seen = c.get(f"/v1/leases/{lease_id}", headers=east).json()  # the supplier of its node: not the price
    assert seen["pricing"] is None and seen["quote"] is None
    # extending: the added time is quoted now (same list price here), the lease keeps "quoted"
    clock.advance(hours=1)
    ext = c.post(f"/v1/leases/{lease_id}/extend", json={"hours": 2}, headers=a).json()
    assert ext["pricing"] == "quoted" and [Decimal(x["term_hours"]) for x in ext["quote"]["lines"]] == [10, 2]
    # open-ended: follows the list price; the quote shows the cost at the grant
    open_ended = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=a).json()
    assert open_ended["quote"]["pricing"] == "list" and open_ended["quote"]["term_total"] is None
    later = clock.now() + timedelta(days=1)
    reserved = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"],
                                          "start": later.isoformat()}, headers=a).json()
    assert reserved["quote"]["pricing"] == "quoted"  # a reservation keeps its quote


def test_dry_run_quote_writes_nothing(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    a = account(c, op, "acme")
    r = c.post("/v1/quotes", json={"form": "gpu", "quantity": 4, "models": ["H800"], "hours": 3}, headers=a)
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["pricing"] == "quoted" and Decimal(q["term_total"]) == (12 * H800_LIST).quantize(Decimal("0.01"))
    assert counts(c, a) == (0, 0)
    assert c.post("/v1/quotes", json={"form": "gpu", "quantity": 1, "models": ["H800"]},
                  headers=a).json()["pricing"] == "list"
    nothing = c.post("/v1/quotes", json={"form": "gpu", "quantity": 9, "models": ["H800"]}, headers=a)
    assert nothing.status_code == 422 and "the largest has 8" in nothing.json()["error"]["message"]  # as an order
    assert c.post("/v1/quotes", json={"form": "gpu", "quantity": 1}, headers=op).status_code == 403
    assert counts(c, a) == (0, 0)


@pytest.mark.parametrize("route", ["/v1/orders", "/v1/quotes"])
@pytest.mark.parametrize("field,value", [("price", "0.01"), ("unit_price", "0.01"), ("rate", "1"),
                                         ("discount", "0.9"), ("quote", {"device_hour": "0.01"}),
                                         ("device_hour", "0.01"), ("p_year", "1"), ("pricing", "quoted")])
def test_no_order_carries_a_price(http: tuple[TestClient, dict[str, str]], route: str, field: str,
                                  value: object) -> None:
    c, op = http
    a = account(c, op, "acme")
    r = c.post(route, json={"form": "gpu", "quantity": 1, "models": ["H800"], "hours": 1, field: value}, headers=a)
    assert r.status_code == 422, r.text
    assert field in r.text  # names the field that is not allowed
    assert counts(c, a) == (0, 0)

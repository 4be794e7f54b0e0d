"""Prices over HTTP: what may be set (now or later, in range, never a float) and the correction of the
past (operator only; credit/debit notes; the ledger sums to zero)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def _tenant(c: TestClient, op: dict[str, str], name: str) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.mark.parametrize(("body", "says"), [
    ({"amount": 9.5}, "not a float"), ({"amount": "0"}, "> 0"), ({"amount": "-1"}, "> 0"),
    ({"amount": "NaN"}, ""), ({"amount": "Infinity"}, ""), ({"amount": "1e15"}, "largest"),
    ({"amount": "9", "effective_from": "2026-11-01T00:00:00Z"}, "is in the past"),
    ({"amount": "9", "price": "1"}, ""),
])
def test_bad_prices_are_422s_and_nothing_is_written(http: tuple[TestClient, dict[str, str]], body: dict[str, object],
                                                    says: str) -> None:
    c, op = http
    before = c.get("/v1/prices", headers=op).json()
    r = c.post("/v1/prices", json={"model": "A800", "unit": "device_hour", **body}, headers=op)
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]["message"]
    assert c.get("/v1/prices", headers=op).json() == before


def test_a_correction_over_http(http: tuple[TestClient, dict[str, str]], clock: FakeClock) -> None:
    c, op = http
    t = _tenant(c, op, "acme")
    lease = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=t).json()["lease_id"]
    clock.advance(hours=2)
    assert c.post(f"/v1/leases/{lease}/end", headers=t).status_code == 200
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = c.post("/v1/billing/invoices", json={"tenant": "acme", "period": "2026-11"}, headers=op)
    assert inv.status_code in (200, 201), inv.text
    body = {"model": "H800", "amount": "20", "from": "2026-11-23T08:30:00Z", "to": "2026-11-23T09:00:00Z",
            "reason": "loaded the wrong sheet"}
    assert c.post("/v1/prices/corrections", json=body, headers=t).status_code == 403
    assert c.post("/v1/prices/corrections", json={**body, "amount": 20.0}, headers=op).status_code == 422
    assert c.post("/v1/prices/corrections", json={**body, "to": "2027-01-01T00:00:00Z"}, headers=op).status_code == 422
    r = c.post("/v1/prices/corrections", json=body, headers=op)
    assert r.status_code == 201, r.text
    doc = r.json()
    (note,) = doc["notes"]
    assert note["kind"] == "debit" and doc["from"] == "2026-11-23T08:30:00Z" and doc["by"] == "operator"
    assert Decimal(note["supplier_share"]) + Decimal(note["commission"]) == Decimal(note["amount"])
    assert c.get("/v1/prices/corrections", headers=op).json() == [doc]
    (seen,) = c.get("/v1/prices/corrections", headers=t).json()  # the tenant: its own notes, no split
    assert seen["notes"][0]["id"] == note["id"] and seen["notes"][0]["supplier_share"] is None
    check = c.get("/v1/ledger/check", headers=op).json()
    assert Decimal(check["sum"]) == 0

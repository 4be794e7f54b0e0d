"""The HTTP API as a client sees it: auth, JSON errors with stable codes, pagination, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock as Clock


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def tenant_headers(c: TestClient, op: dict[str, str], name: str) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_every_request_is_authenticated(http: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = http
    assert c.get("/health").json()["status"] == "ok"
    r = c.get("/v1/offers")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = c.get("/v1/offers", headers={"Authorization": "Bearer sl_nope"})
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]


def test_offers_list_sites_models_and_both_price_units(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    t = tenant_headers(c, op, "acme")
    offers = c.get("/v1/offers", headers=t).json()
    assert len({o["site"] for o in offers}) >= 3 and len({o["model"] for o in offers}) >= 5
    h800 = next(o for o in offers if o["model"] == "H800")
    assert h800["price_p_year"] == "90000" and h800["price_device_hour"].startswith("10.165")
    assert isinstance(h800["price_device_hour"], str)  # decimals travel as strings
    assert c.get("/v1/offers", params={"model": "H800"}, headers=t).json() == [h800]


def test_errors_are_json_with_stable_codes(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    t = tenant_headers(c, op, "acme")
    r = c.post("/v1/orders", content=b"{not json", headers={**t, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
    assert "malformed JSON" in r.json()["error"]["message"]
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": 9, "models": ["H800"]}, headers=t)
    assert r.status_code == 422 and "no node can hold 9 devices" in r.json()["error"]["message"]
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": "lots"}, headers=t)
    assert r.status_code == 422 and "quantity" in r.json()["error"]["message"]
    r = c.post("/v1/orders", json={"form": "gpu", "gpus": 2}, headers=t)
    assert r.status_code == 422 and "gpus" in r.json()["error"]["message"]
    r = c.post("/v1/prices", json={"model": "H800", "amount": "1", "unit": "device_hour"}, headers=t)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_order_lease_and_isolation_over_http(http: tuple[TestClient, dict[str, str]], clock: Clock) -> None:
    c, op = http
    a, b = tenant_headers(c, op, "a"), tenant_headers(c, op, "b")
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["H800"]},
               headers={**a, "Idempotency-Key": "k1"})
    assert r.status_code == 201
    lease_id = r.json()["lease_id"]
    again = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["H800"]},
                   headers={**a, "Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["replayed"] and again.json()["lease_id"] == lease_id
    lease = c.get(f"/v1/leases/{lease_id}", headers=a).json()
    assert lease["state"] == "active" and len(lease["allocations"]) == 2 and lease["events"]
    for method, path in [("get", f"/v1/leases/{lease_id}"), ("post", f"/v1/leases/{lease_id}/end")]:
        r = getattr(c, method)(path, headers=b)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert c.get("/v1/leases", headers=b).json()["items"] == []
    clock.advance(42)
    assert c.post(f"/v1/leases/{lease_id}/end", headers=a).json()["state"] == "ended"
    inv = c.get("/v1/invoices/2026-11", headers=a).json()
    (line,) = inv["lines"]
    hourly_one = Decimal(90000) * Decimal("0.9894") / 8760  # demo H800: 90,000 元/P/年
    assert (line["meter"], line["lease"], line["price_unit"]) == ("device_seconds", lease_id, "device-hour")
    twelve = Decimal("1e-12")  # documents keep 12 places of quantity and unit price (docs/billing.md)
    assert Decimal(line["quantity"]) == (Decimal(2 * 42) / 3600).quantize(twelve)
    assert Decimal(line["unit_price"]) == hourly_one.quantize(twelve)
    expected = (42 * 2 * hourly_one / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(line["amount"]) == expected and Decimal(inv["total"]) == Decimal(inv["amount_due"]) == expected
    assert line["supplier_share"] is None and line["commission"] is None  # a tenant sees no split
    assert inv == c.get("/v1/billing/preview/2026-11", headers=a).json()  # the same draft
    op_view = c.get("/v1/invoices/2026-11", params={"tenant": "a"}, headers=op).json()
    (op_line,) = op_view["lines"]
    assert Decimal(op_line["supplier_share"]) + Decimal(op_line["commission"]) == expected
    assert c.get("/v1/invoices/2026-11", headers=b).json()["lines"] == []
    assert c.get("/v1/revenue/2026-11", headers=a).status_code == 403  # tenants never see supplier revenue
    assert c.get("/v1/invoices/November", headers=a).status_code == 422


def test_pagination(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    t = tenant_headers(c, op, "acme")
    for _ in range(5):
        assert c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["RTX-4090"]},
                      headers=t).status_code == 201
    first = c.get("/v1/leases", params={"limit": 2}, headers=t).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    seen = [x["id"] for x in first["items"]]
    offset = first["next_offset"]
    while offset is not None:
        page = c.get("/v1/leases", params={"limit": 2, "offset": offset}, headers=t).json()
        seen += [x["id"] for x in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == 5
    r = c.get("/v1/leases", params={"limit": 0}, headers=t)
    assert r.status_code == 422 and "query.limit: Input should be greater than or equal to 1" in r.json()["error"]["message"]


def test_openapi_docs_are_served(http: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = http
    spec = c.get("/openapi.json").json()
    assert "/v1/orders" in spec["paths"]
    assert c.get("/docs").status_code == 404  # its page would load Swagger UI from a CDN (tests/api/test_edge.py)

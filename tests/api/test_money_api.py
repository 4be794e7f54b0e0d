"""Money over HTTP: usage ingestion (idempotent, all-or-nothing), plans, vouchers, invoices, exports, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

Http = tuple[TestClient, dict[str, str]]


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def account(c: TestClient, op: dict[str, str], name: str, role: str = "tenant", supplier: str | None = None
            ) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def event(i: int, subject: str = "acme", **data: object) -> dict[str, object]:
    return {"id": f"e{i}", "source": "gw", "type": "inference_input_tokens", "subject": subject,
            "time": "2026-11-23T07:00:00Z", "data": {"quantity": "1000000", **data}}


def test_ingest_is_idempotent_and_all_or_nothing(http: Http) -> None:
    c, op = http
    account(c, op, "acme")
    r = c.post("/v1/usage/events", json=event(0), headers=op)
    assert r.status_code == 202 and r.json() == {"received": 1, "accepted": 1, "duplicates": 0}
    r = c.post("/v1/usage/batch", json={"events": [event(i) for i in range(5)]}, headers=op)
    assert r.json() == {"received": 5, "accepted": 4, "duplicates": 1}
    bad = [
        ({**event(9), "type": "gpu_minutes"}, "unknown meter 'gpu_minutes'; allowed: device_seconds"),
        (event(9, subject="nobody"), "unknown subject(s) ['nobody']"),
        (event(9, quantity="-1"), "data.quantity must be >= 0"),
        (event(9, quantity=1.5), "not a float"),
        ({**event(9), "time": "2027-01-01T00:00:00Z"}, "is in the future"),
        (event(3, quantity="7"), "already ingested with a different payload: gw/e3"),
    ]
    for ev, message in bad:
        r = c.post("/v1/usage/batch", json={"events": [event(100), ev]}, headers=op)
        assert r.status_code in (409, 422) and message in r.json()["error"]["message"], r.text
    # nothing of the rejected batches was written (e100 was in each)
    r = c.post("/v1/usage/events", json=event(100), headers=op)
    assert r.json()["accepted"] == 1
    (row,) = c.get("/v1/usage", headers=op).json()
    assert row["events"] == 6 and row["quantity"] == "6000000"


def test_tenants_see_only_their_money_and_suppliers_only_payouts(http: Http, clock: FakeClock) -> None:
    c, op = http
    a, b = account(c, op, "a"), account(c, op, "b")
    sup = account(c, op, "east", "supplier", "huadong-idc")
    order = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["L20"]}, headers=a)
    r = c.post("/v1/usage/events", json=event(1, subject="a"), headers=a)
    assert r.status_code == 403  # tenants do not report usage
    clock.advance(hours=2)
    assert c.post(f"/v1/leases/{order.json()['lease_id']}/end", headers=a).status_code == 200
    prev = c.get("/v1/billing/preview/2026-11", headers=a).json()
    assert prev["total"] == "10.40" and prev["lines"][0]["supplier_share"] is None  # not for tenants
    assert c.get("/v1/billing/preview/2026-11", headers=b).json()["lines"] == []
    assert c.get("/v1/billing/preview/2026-11", params={"tenant": "a"}, headers=b).status_code == 404
    r = c.post("/v1/billing/invoices", json={"tenant": "a", "period": "2026-11"}, headers=op)
    assert r.status_code == 422 and "is not over" in r.json()["error"]["message"]
    clock.set(datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC))
    r = c.post("/v1/billing/invoices", json={"tenant": "a", "period": "2026-11"}, headers=op)
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["total"] == "10.40" and inv["lines"][0]["supplier_share"] is not None
    assert c.get(f"/v1/billing/invoices/{inv['id']}", headers=b).status_code == 404
    assert c.get(f"/v1/billing/invoices/{inv['id']}", headers=sup).status_code == 403
    assert [x["id"] for x in c.get("/v1/billing/invoices", headers=a).json()] == [inv["id"]]
    assert c.get("/v1/billing/invoices", headers=b).json() == []
    csv_text = c.get(f"/v1/billing/invoices/{inv['id']}", params={"format": "csv"}, headers=a).text
    assert csv_text.splitlines()[0].startswith("invoice,line_no,kind") and ",10.40,,,amount_due\n" in csv_text \
        and csv_text.rstrip().endswith(",10.40,,,outstanding")
    page = c.get(f"/v1/billing/invoices/{inv['id']}", params={"format": "html"}, headers=a)
    assert page.headers["content-type"].startswith("text/html") and "10.40" in page.text
    st = c.get("/v1/statements/supplier", headers=sup).json()
    assert st["supplier"] == "huadong-idc" and st["gross"] == "10.4"
    assert c.get("/v1/statements/supplier", params={"supplier": "xibu-compute"}, headers=sup).status_code == 404
    assert c.get("/v1/statements/supplier", headers=a).status_code == 403
    check = c.get("/v1/ledger/check", headers=op).json()
    assert check["sum"] == "0" and check["unbalanced_entries"] == []
    assert c.get("/v1/ledger/check", headers=a).status_code == 403


def test_plans_vouchers_packages_wallet_over_http(http: Http, clock: FakeClock) -> None:
    c, op = http
    t = account(c, op, "acme")
    r = c.post("/v1/plans", json={"tenant": "acme", "kind": "payg", "paid": True,
                                  "effective_from": "2026-11-01T00:00:00Z"}, headers=op)
    assert r.status_code == 201
    r = c.post("/v1/plans", json={"tenant": "acme", "kind": "payg", "effective_from": "2026-11-15T00:00:00Z"},
               headers=op)
    assert r.status_code == 422 and "overlaps plan" in r.json()["error"]["message"]
    r = c.post("/v1/plans", json={"tenant": "acme", "kind": "barter", "effective_from": "2026-12-01T00:00:00Z"},
               headers=op)
    assert r.status_code == 422 and "allowed: payg, spot, term, commit" in r.json()["error"]["message"]
    v = c.post("/v1/vouchers", json={"tenant": "acme", "issuer": "shenzhen-city", "percent": "0.5", "cap": "3",
                                     "valid_from": "2026-11-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"},
               headers=op)
    assert v.status_code == 201 and v.json()["left"] == "3"
    r = c.post("/v1/vouchers", json={"tenant": "acme", "issuer": "x", "percent": "1.5", "cap": "3",
                                     "valid_from": "2026-11-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"},
               headers=op)
    assert r.status_code == 422 and "percent must be a fraction" in r.json()["error"]["message"]
    prod = c.post("/v1/package-products", json={"name": "L20 1 h", "meter": "device_seconds", "model": "L20",
                                                "quantity": "1", "price": "2", "valid_days": 3}, headers=op)
    assert prod.status_code == 201, prod.text
    pk = c.post("/v1/packages", json={"product": "L20 1 h"}, headers=t)
    assert pk.status_code == 201 and pk.json()["tenant"] == "acme" and pk.json()["price"] == "2"
    assert c.put("/v1/wallet/policy", json={"tenant": "acme", "warn_hours": "2", "suspend_hours": "1"},
                 headers=op).json()["prepaid"]
    w = c.post("/v1/wallet/top-ups", json={"tenant": "acme", "amount": "50"}, headers=op).json()
    assert w["balance"] == "50"
    assert c.post("/v1/wallet/top-ups", json={"tenant": "acme", "amount": "-5"}, headers=op).status_code == 422
    assert c.post("/v1/wallet/top-ups", json={"tenant": "acme", "amount": "5"}, headers=t).status_code == 403
    order = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=t).json()
    clock.advance(hours=3)
    c.post(f"/v1/leases/{order['lease_id']}/end", headers=t)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = c.post("/v1/billing/invoices", json={"tenant": "acme", "period": "2026-11"}, headers=op).json()
    # 3 device-hours: 1 from the package, 2 x 2.60 billed; package fee 2.00; voucher 50 % of the usage line
    kinds = {x["kind"] for x in inv["lines"]}
    assert {"package_covered", "usage", "package_fee"} <= kinds
    assert inv["total"] == "7.20" and inv["vouchers"] == "2.60" and inv["amount_due"] == "0.00"
    assert inv["status"] == "paid" and inv["wallet"] == "4.60"
    assert c.get("/v1/wallet", headers=t).json()["balance"] == "45.4"
    audit = c.get("/v1/vouchers/audit", params={"format": "csv"}, headers=op)
    assert audit.text.startswith("voucher,issuer,tenant,scheme,outcome,rule,rule_text,") and ",used," in audit.text
    assert ",percent_of_line,allowed: the voucher's percent of the line" in audit.text  # the rule: id and words

"""A tenant's money over HTTP: paying an issued invoice from its wallet, and cost to date per lease.

Paying: only the invoice's own tenant (its admin or finance member) or the operator; all or nothing
(a short balance is refused and writes nothing); the wallet goes down by exactly what was owed.
Cost to date: the sum of the invoice lines naming the lease, so it equals the draft's lines for it.
"""

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


def member(c: TestClient, org: dict[str, str], name: str, role: str) -> dict[str, str]:
    r = c.post("/v1/members", json={"name": name, "role": role}, headers=org)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def issued_invoice(c: TestClient, op: dict[str, str], a: dict[str, str], clock: FakeClock) -> dict[str, str]:
    """Tenant a runs 2 L20 for 2 hours in November; the month is issued on December 1st."""
    order = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["L20"]}, headers=a)
    assert order.status_code == 201, order.text
    clock.advance(hours=2)
    assert c.post(f"/v1/leases/{order.json()['lease_id']}/end", headers=a).status_code == 200
    clock.set(datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC))
    r = c.post("/v1/billing/invoices", json={"tenant": "a", "period": "2026-11"}, headers=op)
    assert r.status_code == 201, r.text
    inv: dict[str, str] = r.json()
    assert inv["status"] == "issued" and Decimal(inv["amount_due"]) > 0
    return inv


def test_only_the_invoices_tenant_pays_it_from_its_wallet_and_only_in_full(http: Http, clock: FakeClock) -> None:
    c, op = http
    a, b = account(c, op, "a"), account(c, op, "b")
    sup = account(c, op, "east", "supplier", "huadong-idc")
    inv = issued_invoice(c, op, a, clock)
    due = Decimal(inv["amount_due"])
    pay = f"/v1/billing/invoices/{inv['id']}/wallet-payment"
    dev, fin = member(c, a, "a-dev", "developer"), member(c, a, "a-fin", "finance")
    # attacks first: another tenant (its own full wallet) cannot pay or learn of a's invoice; a
    # supplier and a developer member are refused; nothing moves
    assert c.post("/v1/wallet/top-ups", json={"tenant": "b", "amount": "1000"}, headers=op).status_code == 201
    r = c.post(pay, headers=b)
    assert r.status_code == 404 and inv["id"] in r.json()["error"]["message"], r.text
    assert c.post(pay, headers=sup).status_code == 403
    r = c.post(pay, headers=dev)
    assert r.status_code == 403 and "developer" in r.json()["error"]["message"], r.text
    assert Decimal(c.get("/v1/wallet", headers=b).json()["balance"]) == 1000
    # a short wallet: refused with what is missing, nothing written
    assert c.post("/v1/wallet/top-ups", json={"tenant": "a", "amount": str(due - Decimal("0.01"))},
                  headers=op).status_code == 201
    before = c.get("/v1/ledger/check", headers=op).json()["accounts"]
    r = c.post(pay, headers=fin)
    assert r.status_code == 409, r.text
    msg = r.json()["error"]["message"]
    assert "0.01 CNY short" in msg and "top the wallet up" in msg
    assert c.get("/v1/ledger/check", headers=op).json()["accounts"] == before
    assert c.get(f"/v1/billing/invoices/{inv['id']}", headers=a).json()["status"] == "issued"
    # topped up: the finance member pays; the wallet goes down by exactly the amount due
    assert c.post("/v1/wallet/top-ups", json={"tenant": "a", "amount": "5.00"}, headers=op).status_code == 201
    held = Decimal(c.get("/v1/wallet", headers=a).json()["balance"])
    r = c.post(pay, headers=fin)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert Decimal(c.get("/v1/wallet", headers=a).json()["balance"]) == held - due
    check = c.get("/v1/ledger/check", headers=op).json()
    assert Decimal(check["sum"]) == 0 and not check["unbalanced_entries"]
    # nothing left to pay: a second payment is refused and takes nothing
    r = c.post(pay, headers=a)
    assert r.status_code == 409 and "nothing outstanding" in r.json()["error"]["message"]
    assert Decimal(c.get("/v1/wallet", headers=a).json()["balance"]) == held - due
    assert c.get("/v1/billing/invoices", params={"status": "issued"}, headers=a).json() == []


def test_cost_to_date_per_lease_sums_the_invoice_lines_naming_it(http: Http, clock: FakeClock) -> None:
    c, op = http
    a, b = account(c, op, "a"), account(c, op, "b")
    sup = account(c, op, "east", "supplier", "huadong-idc")
    one = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["L20"]}, headers=a).json()
    two = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=a).json()
    clock.advance(hours=1, minutes=17, seconds=3)
    assert c.post(f"/v1/leases/{two['lease_id']}/end", headers=a).status_code == 200
    clock.advance(minutes=41)
    costs = c.get("/v1/lease-costs", headers=a)
    assert costs.status_code == 200, costs.text
    by = {x["lease"]: x for x in costs.json()["items"]}
    draft = c.get("/v1/billing/preview/2026-11", headers=a).json()
    for lid in (one["lease_id"], two["lease_id"]):
        lines = sum((Decimal(x["amount"]) for x in draft["lines"] if x["lease"] == lid), Decimal(0))
        assert lines > 0
        assert Decimal(by[lid]["cost_to_date"]) == lines == Decimal(by[lid]["this_month"])
        assert by[lid]["months"] == [{"period": "2026-11", "amount": by[lid]["cost_to_date"], "source": "draft"}]
    assert sum(Decimal(x["cost_to_date"]) for x in by.values()) == Decimal(draft["subtotal"])
    # one lease; the operator names the tenant; nobody else sees them
    r = c.get("/v1/lease-costs", params={"lease": two["lease_id"]}, headers=a).json()
    assert [x["lease"] for x in r["items"]] == [two["lease_id"]]
    assert c.get("/v1/lease-costs", params={"tenant": "a"}, headers=op).json()["items"] == costs.json()["items"]
    assert c.get("/v1/lease-costs", params={"lease": two["lease_id"]}, headers=b).status_code == 404
    assert c.get("/v1/lease-costs", params={"tenant": "a"}, headers=b).status_code == 404
    assert c.get("/v1/lease-costs", headers=sup).status_code == 403
    # the month is issued: November comes from the invoice, December from the draft (lease one still runs)
    clock.set(datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC))
    inv = c.post("/v1/billing/invoices", json={"tenant": "a", "period": "2026-11"}, headers=op).json()
    by = {x["lease"]: x for x in c.get("/v1/lease-costs", headers=a).json()["items"]}
    nov = sum((Decimal(x["amount"]) for x in inv["lines"] if x["lease"] == one["lease_id"]), Decimal(0))
    dec = c.get("/v1/billing/preview/2026-12", headers=a).json()
    dec_one = sum((Decimal(x["amount"]) for x in dec["lines"] if x["lease"] == one["lease_id"]), Decimal(0))
    assert [(m["period"], Decimal(m["amount"]), m["source"]) for m in by[one["lease_id"]]["months"]] == [
        ("2026-11", nov, inv["id"]), ("2026-12", dec_one, "draft")]
    assert Decimal(by[one["lease_id"]]["cost_to_date"]) == nov + dec_one
    assert Decimal(by[one["lease_id"]]["this_month"]) == dec_one > 0
    r = c.get("/v1/lease-costs", params={"lease": "ls_nope"}, headers=a)
    assert r.status_code == 404, r.text

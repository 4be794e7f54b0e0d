"""Debit notes and the notes on an invoice over HTTP (SQLite and PostgreSQL): every bad request is a
4xx that writes nothing; the notes show in JSON, CSV and HTML; pay collects debit notes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, billing, leases, orders
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H = dict[str, str]


@pytest.fixture
def issued(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock
           ) -> Iterator[tuple[TestClient, H, H, str]]:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    clock.set(datetime(2026, 11, 23, 10, tzinfo=UTC))
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = billing.issue_invoice(demo, operator, "acme", "2026-11")
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    acme = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, 'acme')}"}
    with TestClient(create_app(demo)) as c:
        yield c, op, acme, inv["id"]


def _state(c: TestClient, op: H, inv: str) -> tuple[Any, Any]:
    return c.get(f"/v1/billing/invoices/{inv}", headers=op).json(), c.get("/v1/ledger/check", headers=op).json()


def test_bad_debit_notes_are_4xx_and_write_nothing(issued: tuple[TestClient, H, H, str]) -> None:
    c, op, acme, inv = issued
    before = _state(c, op, inv)
    bad: list[tuple[str, dict[str, Any], H, int, str]] = [
        (inv, {"amount": "-1", "reason": "x"}, op, 422, "allowed"),
        (inv, {"amount": "0", "reason": "x"}, op, 422, "allowed"),
        (inv, {"amount": 1.5, "reason": "x"}, op, 422, "float"),
        (inv, {"amount": "1.001", "reason": "x"}, op, 422, "decimal places"),
        (inv, {"amount": "1e12", "reason": "x"}, op, 422, "largest"),
        (inv, {"amount": "1"}, op, 422, "reason"),
        (inv, {"amount": "1", "reason": " "}, op, 422, "reason"),
        (inv, {"amount": "1", "reason": "x", "tax": "0"}, op, 422, "tax"),
        ("inv_nope", {"amount": "1", "reason": "x"}, op, 404, "inv_nope"),
        (inv, {"amount": "1", "reason": "x"}, acme, 403, ""),
    ]
    for target, body, who, status, words in bad:
        r = c.post(f"/v1/billing/invoices/{target}/debit-notes", json=body, headers=who)
        assert r.status_code == status, (body, r.text)
        assert words in r.text, r.text
    assert _state(c, op, inv) == before
    assert c.post(f"/v1/billing/invoices/{inv}/void", json={"reason": "typo"}, headers=op).status_code == 200
    r = c.post(f"/v1/billing/invoices/{inv}/debit-notes", json={"amount": "1", "reason": "x"}, headers=op)
    assert r.status_code == 409 and "void" in r.json()["error"]["message"]


def test_debit_note_shows_everywhere_and_pay_collects_it(issued: tuple[TestClient, H, H, str]) -> None:
    c, op, acme, inv = issued
    r = c.post(f"/v1/billing/invoices/{inv}/debit-notes", json={"amount": "12.50", "reason": "on-site support"}, headers=op)
    assert r.status_code == 201, r.text
    doc = r.json()
    (note,) = doc["notes"]
    assert (note["kind"], note["amount"], note["by"], note["paid_at"]) == ("debit", "12.50", "operator", None)
    assert doc["debit_notes_total"] == "12.50"

    assert Decimal(doc["balance_after_notes"]) == Decimal(doc["total"]) + Decimal("12.50")
    assert Decimal(doc["outstanding"]) == Decimal(doc["amount_due"]) + Decimal("12.50")
    seen = c.get(f"/v1/billing/invoices/{inv}", headers=acme).json()  # the tenant sees its own
    assert seen["notes"] == doc["notes"]
    month = c.get("/v1/invoices/2026-11", headers=acme).json()
    assert month["notes"] == doc["notes"] and month["balance_after_notes"] == doc["balance_after_notes"]
    csv_text = c.get(f"/v1/billing/invoices/{inv}?format=csv", headers=acme).text
    assert "debit_note" in csv_text and note["id"] in csv_text and "balance_after_notes" in csv_text
    html = c.get("/v1/invoices/2026-11?format=html", headers=acme).text
    assert note["id"] in html and "on-site support" in html and "balance after notes" in html
    paid = c.post(f"/v1/billing/invoices/{inv}/pay", headers=op).json()
    assert paid["status"] == "paid" and paid["outstanding"] == "0.00" and paid["notes"][0]["paid_at"]
    check = c.get("/v1/ledger/check", headers=op).json()
    assert Decimal(check["sum"]) == 0 and check["unbalanced_entries"] == []
    assert c.post(f"/v1/billing/invoices/{inv}/pay", headers=op).status_code == 409

"""Ending a term plan early over HTTP (SQLite and PostgreSQL): the issued fee gets its credit note in
the same request, the ledger check sums to zero, and a refused end writes no note."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, billing, plans
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)
H = dict[str, str]


@pytest.fixture
def setup(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock
          ) -> Iterator[tuple[TestClient, H, H, str, str]]:
    pl = plans.create_plan(demo, operator, {"tenant": "acme", "kind": "term", "term": "month", "term_model": "H800",
                                            "term_devices": 8, "discount": "0.2", "effective_from": NOW.isoformat()})
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = billing.issue_invoice(demo, operator, "acme", "2026-11")["id"]
    clock.set(datetime(2026, 12, 9, 6, 30, tzinfo=UTC))
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    acme = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, 'acme')}"}
    with TestClient(create_app(demo)) as c:
        yield c, op, acme, pl["id"], inv


def _state(c: TestClient, op: H, inv: str) -> tuple[Any, Any]:
    return c.get(f"/v1/billing/invoices/{inv}", headers=op).json(), c.get("/v1/ledger/check", headers=op).json()


def test_ending_a_term_early_over_http_credits_the_fee_and_the_ledger_balances(
        setup: tuple[TestClient, H, H, str, str]) -> None:
    c, op, acme, plan_id, inv = setup
    before = _state(c, op, inv)
    for body, who, status in [({"at": "2026-12-01T00:00:00+00:00"}, op, 422), ({}, acme, 403),
                              ({"at": "2026-12-10"}, op, 422), ({"at": 3}, op, 422)]:
        r = c.post(f"/v1/plans/{plan_id}/end", json=body, headers=who)
        assert r.status_code == status, (body, r.text)
        assert _state(c, op, inv) == before  # refused: no end, no note
    r = c.post(f"/v1/plans/{plan_id}/end", json={}, headers=op)
    assert r.status_code == 200, r.text
    doc, check = _state(c, op, inv)
    (fee,) = [x for x in doc["lines"] if x["kind"] == "term_fee"]
    (note,) = doc["credit_notes"]
    held = Decimal(8 * int((datetime(2026, 12, 9, 6, 30, tzinfo=UTC) - NOW).total_seconds()))
    kept = (held * Decimal(fee["unit_price"]) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(fee["amount"]) - Decimal(note["amount"]) == kept
    assert note["reason"].startswith(f"term fee of plan {plan_id} for 2026-11-23T08:00:00+00:00")
    assert Decimal(doc["amount_due"]) == Decimal(before[0]["amount_due"]) - Decimal(note["amount"])
    assert Decimal(check["sum"]) == 0 and check["unbalanced_entries"] == []
    # the tenant sees the note on its own invoice
    mine = c.get(f"/v1/billing/invoices/{inv}", headers=acme).json()
    assert [n["id"] for n in mine["credit_notes"]] == [note["id"]]
    assert c.post(f"/v1/billing/invoices/{inv}/void", json={"reason": "x"}, headers=op).status_code == 409

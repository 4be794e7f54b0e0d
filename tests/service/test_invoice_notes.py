"""Credit and debit notes on the invoice document, manual debit notes, and paying what is outstanding
(debit notes included), on SQLite and PostgreSQL (the fixtures run both)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.domain.accounts import Principal
from suanli.domain.invoices import InvoiceNote, NoteKind, balance_after_notes
from suanli.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import billing, exports, invoice_notes, leases, orders
from suanli.service import price_corrections as corrections
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

FROM = datetime(2026, 11, 23, 8, 49, 31, tzinfo=UTC)
TO = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _issued(p: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> dict[str, Any]:
    res = orders.create_order(p, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})  # 08:00
    clock.set(datetime(2026, 11, 23, 10, tzinfo=UTC))
    leases.end_lease(p, tenant, res.order.lease_id or "")
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    return billing.issue_invoice(p, operator, "acme", "2026-11")


def _balanced(p: Platform, operator: Principal) -> None:
    check = billing.ledger_check(p, operator)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []


def test_correction_notes_and_manual_notes_are_on_the_invoice_document(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    issued = _issued(demo, operator, tenant, clock)
    assert issued["notes"] == [] and issued["balance_after_notes"] == issued["total"]
    clock.set(datetime(2026, 12, 2, 9, tzinfo=UTC))
    up = corrections.correct_price(demo, operator, "H800", "30", FROM, TO, "under-billed")
    (dn,) = up["notes"]
    clock.advance(minutes=1)
    down = corrections.correct_price(demo, operator, "H800", "1", FROM, TO, "over-corrected")
    (cn,) = down["notes"]
    clock.advance(minutes=1)
    billing.credit_note(demo, operator, issued["id"], Decimal("1.50"), "goodwill")
    clock.advance(minutes=1)
    invoice_notes.debit_note(demo, operator, issued["id"], "2.25", "late fee")
    doc = billing.invoice_doc(demo, tenant, issued["id"])
    assert doc["total"] == issued["total"] and doc["subtotal"] == issued["subtotal"]  # the issued total stays
    kinds = [(n["kind"], n["correction"], n["by"]) for n in doc["notes"]]
    assert kinds == [("debit", up["id"], "operator"), ("credit", down["id"], "operator"),
                     ("credit", None, "operator"), ("debit", None, "operator")]
    assert [n["id"] for n in doc["notes"][:2]] == [dn["id"], cn["id"]]
    assert doc["notes"][0]["amount"] == dn["total"] and doc["notes"][1]["amount"] == cn["total"]
    assert doc["notes"][3]["reason"] == "late fee" and doc["notes"][3]["amount"] == Decimal("2.25")
    assert "price correction" in doc["notes"][0]["reason"] or doc["notes"][0]["reason"] == "under-billed"
    credits = cn["total"] + Decimal("1.50")
    debits = dn["total"] + Decimal("2.25")
    assert doc["credit_notes_total"] == credits and doc["debit_notes_total"] == debits
    assert doc["balance_after_notes"] == doc["total"] - credits + debits
    assert all(a.as_tuple().exponent == -2 for a in
               [doc["balance_after_notes"], doc["outstanding"], *[n["amount"] for n in doc["notes"]]])
    # the same notes in CSV and HTML
    text = exports.invoice_csv(doc)
    for n in doc["notes"]:
        assert n["id"] in text
    assert f"balance_after_notes,{doc['balance_after_notes']}" in text.replace(",,,", ",") or \
        str(doc["balance_after_notes"]) in text
    page = exports.invoice_html(doc)
    assert all(n["id"] in page for n in doc["notes"]) and "balance after notes" in page
    _balanced(demo, operator)


def test_a_manual_debit_note_is_owed_and_pay_settles_it_with_the_invoice(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    issued = _issued(demo, operator, tenant, clock)
    due = issued["amount_due"]
    doc = invoice_notes.debit_note(demo, operator, issued["id"], "10.00", "set-up fee missed")
    (note,) = doc["notes"]
    assert note["kind"] == "debit" and note["paid_at"] is None and note["correction"] is None
    assert doc["outstanding"] == due + Decimal("10.00") and doc["amount_due"] == due
    _balanced(demo, operator)
    paid = billing.pay_invoice(demo, operator, issued["id"])
    assert paid["status"] == "paid" and paid["outstanding"] == Decimal("0.00")
    assert paid["notes"][0]["paid_at"] is not None
    check = billing.ledger_check(demo, operator)
    assert check["accounts"].get("receivable:" + tenant.account_id, Decimal(0)) == 0
    _balanced(demo, operator)
    # a debit note on a paid invoice: pay again settles only that note
    invoice_notes.debit_note(demo, operator, issued["id"], "3.00", "extra support hours")
    again = billing.pay_invoice(demo, operator, issued["id"])
    assert again["status"] == "paid" and again["outstanding"] == Decimal("0.00")
    assert billing.ledger_check(demo, operator)["accounts"].get("receivable:" + tenant.account_id, 0) == 0
    with pytest.raises(ConflictError, match="nothing outstanding"):
        billing.pay_invoice(demo, operator, issued["id"])
    _balanced(demo, operator)


def test_a_correction_debit_note_on_a_paid_invoice_is_paid_by_pay(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    issued = _issued(demo, operator, tenant, clock)
    billing.pay_invoice(demo, operator, issued["id"])
    clock.set(datetime(2026, 12, 2, 9, tzinfo=UTC))
    (dn,) = corrections.correct_price(demo, operator, "H800", "30", FROM, TO, "under-billed")["notes"]
    doc = billing.invoice_doc(demo, operator, issued["id"])
    assert doc["outstanding"] == dn["total"]
    paid = billing.pay_invoice(demo, operator, issued["id"])
    assert paid["outstanding"] == 0 and paid["notes"][0]["paid_at"] is not None
    assert billing.ledger_check(demo, operator)["accounts"].get("receivable:" + tenant.account_id, 0) == 0
    _balanced(demo, operator)


@pytest.mark.parametrize("amount", ["-1", "0", 1.5, "1.001", "1000000000.01", "NaN", "Infinity", "ten", True])
def test_bad_debit_note_amounts_are_422s_writing_nothing(demo: Platform, operator: Principal, tenant: Principal,
                                                         clock: FakeClock, amount: Any) -> None:
    issued = _issued(demo, operator, tenant, clock)
    before = billing.ledger_check(demo, operator)
    with pytest.raises(ValidationError, match="allowed"):
        invoice_notes.debit_note(demo, operator, issued["id"], amount, "fee")
    assert billing.invoice_doc(demo, operator, issued["id"])["notes"] == []
    assert billing.ledger_check(demo, operator) == before


def test_debit_note_refusals(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    issued = _issued(demo, operator, tenant, clock)
    before = billing.ledger_check(demo, operator)
    for reason in ("", "   ", "x" * 1001):
        with pytest.raises(ValidationError, match="reason"):
            invoice_notes.debit_note(demo, operator, issued["id"], "1", reason)
    with pytest.raises(PermissionDeniedError):
        invoice_notes.debit_note(demo, tenant, issued["id"], "1", "I owe you")
    with pytest.raises(NotFoundError):
        invoice_notes.debit_note(demo, operator, "inv_nope", "1", "fee")
    assert billing.invoice_doc(demo, operator, issued["id"])["notes"] == []
    assert billing.ledger_check(demo, operator) == before
    billing.void_invoice(demo, operator, issued["id"], "typo")
    with pytest.raises(ConflictError, match="void"):
        invoice_notes.debit_note(demo, operator, issued["id"], "1", "fee")
    with pytest.raises(ConflictError):
        billing.pay_invoice(demo, operator, issued["id"])


def test_an_invoice_with_a_debit_note_cannot_be_voided(demo: Platform, operator: Principal, tenant: Principal,
                                                         clock: FakeClock) -> None:
    issued = _issued(demo, operator, tenant, clock)
    invoice_notes.debit_note(demo, operator, issued["id"], "4", "fee")
    with pytest.raises(ConflictError, match="debit note"):
        billing.void_invoice(demo, operator, issued["id"])
    assert billing.invoice_doc(demo, operator, issued["id"])["status"] == "issued"


def test_a_draft_has_no_notes(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    draft = billing.month_invoice(demo, tenant, "2026-11")
    assert draft["notes"] == [] and draft["balance_after_notes"] == draft["total"]
    assert draft["outstanding"] == draft["amount_due"]


def _note(kind: NoteKind, amount: Decimal) -> InvoiceNote:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    return InvoiceNote("n", "inv", kind, amount, "r", at, "operator", None, kind is NoteKind.CREDIT, None)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total=st.decimals(0, 10**6, places=2),
       notes=st.lists(st.tuples(st.sampled_from(list(NoteKind)), st.decimals("0.01", 10**6, places=2)), max_size=8))
def test_balance_after_notes_is_total_minus_credits_plus_debits(total: Decimal,
                                                                  notes: list[tuple[NoteKind, Decimal]]) -> None:
    ns = [_note(k, a) for k, a in notes]
    credits = sum((a for k, a in notes if k is NoteKind.CREDIT), Decimal(0))
    debits = sum((a for k, a in notes if k is NoteKind.DEBIT), Decimal(0))
    assert balance_after_notes(total, ns, "CNY") == total - credits + debits
    assert balance_after_notes(total, ns, "CNY").as_tuple().exponent == -2

"""Invoice documents from the store: domain objects (never rows or tuples), the status an enum, every
amount in the currency's minor unit on SQLite and PostgreSQL alike, and the draft of a month equal
to the invoice issued from it, field by field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from suanli.domain.accounts import Principal
from suanli.domain.invoices import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    SlaCredit,
    SlaPosting,
    stored,
)
from suanli.domain.meters import Meter
from suanli.domain.money import minor, money_text
from suanli.domain.usage import UsageSum, UsageTotal
from suanli.errors import ValidationError
from suanli.service import billing, fleet, health, leases, orders, wallets
from suanli.service.platform import Platform
from suanli.store import billing as store
from suanli.store import usage as usage_store
from suanli.store.money_tables import InvoiceRow
from suanli.testing.clock import FakeClock

DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
ISSUE_ONLY = {"id", "status", "issued_at", "paid_at", "voided_at"}


def _amounts(doc: dict[str, Any]) -> list[Decimal]:
    out = [doc[k] for k in billing.TOTALS]
    for x in doc["lines"]:
        out += [x["amount"], *[x[k] for k in ("supplier_share", "commission") if k in x]]
    out += [n["amount"] for n in doc["credit_notes"]] + [u["amount"] for u in doc["voucher_uses"]]
    return out


def _month(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    """Two H800 for 1 h 7 s (a long unit price) and 10.00 in the wallet, then the month is over."""
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.advance(hours=1, seconds=7)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    wallets.top_up(demo, operator, "acme", Decimal(10))
    clock.set(DEC1)


def test_draft_equals_the_issued_invoice_field_by_field(demo: Platform, operator: Principal, tenant: Principal,
                                                         clock: FakeClock) -> None:
    _month(demo, operator, tenant, clock)
    for who in (tenant, operator):
        draft = billing.month_invoice(demo, who, "2026-11", "acme")
        assert draft["status"] is InvoiceStatus.PREVIEW and draft["id"] is None
    draft_t = billing.month_invoice(demo, tenant, "2026-11")
    draft_o = billing.month_invoice(demo, operator, "2026-11", "acme")
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    shown_t = billing.month_invoice(demo, tenant, "2026-11")
    shown_o = billing.month_invoice(demo, operator, "2026-11", "acme")
    assert issued["status"] is InvoiceStatus.ISSUED and shown_t["id"] == issued["id"]
    for before, after in ((draft_t, shown_t), (draft_o, shown_o)):
        assert set(before) == set(after)
        assert {k: v for k, v in before.items() if k not in ISSUE_ONLY} == \
               {k: v for k, v in after.items() if k not in ISSUE_ONLY}
    # the same Decimal, with the same places: 12.30 is not 12.3 nor 12.300000000000
    for doc in (draft_t, draft_o, issued, shown_t, shown_o):
        assert all(a.as_tuple().exponent == -2 for a in _amounts(doc)), _amounts(doc)
        for x in doc["lines"]:
            assert x["unit_price"] == stored(x["unit_price"]) and str(x["unit_price"]) == str(stored(x["unit_price"]))
            assert str(x["quantity"]) == str(stored(x["quantity"]))
    assert draft_t["wallet"] == Decimal("10.00") and "supplier_share" not in draft_t["lines"][0]
    assert "supplier_share" in draft_o["lines"][0]


def test_the_store_speaks_domain(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _month(demo, operator, tenant, clock)
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    billing.credit_note(demo, operator, issued["id"], Decimal(1), "goodwill")
    with demo.tx() as s:
        (inv,) = store.list_invoices(s, tenant_id=tenant.account_id)
        lines = store.invoice_lines(s, [inv.id])
        (note,) = store.credit_notes(s, inv.id)
        sums = usage_store.usage_sums(s, tenant.account_id, "2026-11", [])
        totals = usage_store.usage_summary(s, tenant_id=tenant.account_id)
    assert isinstance(inv, Invoice) and inv.status is InvoiceStatus.ISSUED and inv.live
    assert all(isinstance(x, InvoiceLine) for x in lines) and lines[0].amount.as_tuple().exponent == -2
    assert isinstance(note, CreditNote) and note.amount == Decimal("1.00") and str(note.amount) == "1.00"
    assert inv.amount_due == inv.total - Decimal("10.00") - Decimal("1.00")
    assert all(isinstance(x, UsageSum) and isinstance(x.meter, Meter) for x in sums) and sums
    assert all(isinstance(x, UsageTotal) for x in totals) and totals[0].quantity == sum(x.quantity for x in sums)
    paid = billing.pay_invoice(demo, operator, issued["id"])
    assert paid["status"] is InvoiceStatus.PAID and paid["paid_at"] == DEC1
    with demo.tx() as s:
        assert store.list_invoices(s, tenant_id=None, status=InvoiceStatus.PAID)[0].id == issued["id"]
        assert store.list_invoices(s, tenant_id=None, status=InvoiceStatus.VOID) == []


def test_sla_credits_come_back_as_domain_objects_and_print_like_the_draft(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["A800"]}).order.lease_id
    assert lease_id
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    clock.advance(hours=2)
    fleet.set_node_state(demo, operator, node, "down", "PSU failed")
    assert health.check_health(demo).interrupted == [lease_id]
    clock.set(DEC1)
    with demo.tx() as s:
        (pending,) = store.unposted_sla_credits(s, tenant.account_id, DEC1)
    assert isinstance(pending, SlaCredit) and str(pending.amount) == "26.00"  # 4 A800 x 1 h minimum x 6.50
    draft = billing.month_invoice(demo, operator, "2026-11", "acme")
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert draft["sla_credits"] == issued["sla_credits"] and issued["credits"] == Decimal("26.00")
    with demo.tx() as s:
        (posted,) = store.sla_postings(s, tenant_id=tenant.account_id)
        assert store.unposted_sla_credits(s, tenant.account_id, DEC1) == []
    assert isinstance(posted, SlaPosting) and posted.credit == pending and posted.invoice_id == issued["id"]
    assert posted.period == "2026-11" and str(posted.amount) == "26.00" and posted.parts[0]["node"] == node
    assert posted.amount - posted.supplier_share == Decimal("3.90")  # the operator's 15 %


def test_the_database_keeps_only_stored_statuses(demo: Platform, operator: Principal, tenant: Principal,
                                                 clock: FakeClock) -> None:
    _month(demo, operator, tenant, clock)
    draft = Invoice("inv_x", tenant.account_id, "2026-11", InvoiceStatus.PREVIEW, "CNY", *[Decimal("0.00")] * 7,
                    DEC1)
    with pytest.raises(ValueError, match="issued, paid or void"), demo.tx() as s:
        store.add_invoice(s, draft, [])
    with pytest.raises(IntegrityError), demo.tx() as s:  # the CHECK constraint, below the code
        s.add(InvoiceRow(id="inv_y", tenant_id=tenant.account_id, period="2026-11", status="preview",
                         currency="CNY", subtotal=Decimal(0), tax=Decimal(0), total=Decimal(0), vouchers=Decimal(0),
                         credits=Decimal(0), wallet=Decimal(0), amount_due=Decimal(0), issued_at=DEC1))
        s.flush()
    with pytest.raises(ValidationError, match="allowed: issued, paid, void"):
        billing.list_invoices(demo, operator, status="preview")


@given(cents=st.integers(min_value=-10**12, max_value=10**12), extra=st.integers(min_value=0, max_value=10))
def test_an_amount_prints_one_way_however_it_was_read_back(cents: int, extra: int) -> None:
    """12.30 read back as 12.3, 12.30 or 12.300000000000 (SQLite text, PostgreSQL NUMERIC) is one
    amount and one string; sums of amounts in minor units stay in minor units."""
    exact = Decimal(cents).scaleb(-2)
    read_back = exact.quantize(Decimal(1).scaleb(-2 - extra))
    assert minor(read_back) == exact and money_text(read_back) == money_text(exact) == format(exact, "f")
    assert money_text(exact, grouped=True).replace(",", "") == money_text(exact)
    assert (minor(read_back) + minor(exact)).as_tuple().exponent == -2


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=20))
def test_stored_precision_is_idempotent(d: Decimal) -> None:
    s = stored(d)
    assert stored(s) == s and str(stored(s)) == str(s) and "E" not in format(s, "f")
    assert s == 0 or not format(s, "f").endswith("0") or s == s.to_integral_value()
    assert abs(s - d) <= Decimal("0.5e-12")

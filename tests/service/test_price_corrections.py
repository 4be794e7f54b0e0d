"""Price corrections: the past changes only through an operator's correction with a reason, which
issues credit/debit notes for issued invoices (never editing them) and re-prices months not issued yet."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.money import round_line
from suanli.errors import PermissionDeniedError, ValidationError
from suanli.service import billing, leases, orders
from suanli.service import price_corrections as corrections
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H800_P = Decimal("0.9894")
LIST = Decimal(90000) * H800_P / 8760  # the demo fleet's H800 list price, per device-hour
T = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FROM = datetime(2026, 11, 23, 8, 49, 31, tzinfo=UTC)
TO = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _lease_8_to_10(p: Platform, tenant: Principal, clock: FakeClock, devices: int = 2) -> None:
    res = orders.create_order(p, tenant, {"form": "gpu", "quantity": devices, "models": ["H800"]})  # 08:00
    clock.set(datetime(2026, 11, 23, 10, tzinfo=UTC))
    leases.end_lease(p, tenant, res.order.lease_id or "")


def _ledger_sums_to_zero(p: Platform, operator: Principal) -> None:
    check = billing.ledger_check(p, operator)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []


def test_a_lower_past_price_credits_the_difference_and_leaves_the_invoice_as_issued(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _lease_8_to_10(demo, tenant, clock)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    before = billing.invoice_doc(demo, operator, issued["id"])
    clock.set(datetime(2026, 12, 2, 9, tzinfo=UTC))
    doc = corrections.correct_price(demo, operator, "H800", "9", FROM, TO, "contract said 9 for the pilot hour")
    old = round_line(LIST * 2 * 7200 / 3600)
    new = round_line(LIST * 2 * (2971 + 1800) / 3600) + round_line(Decimal(9) * 2 * 2429 / 3600)
    (note,) = doc["notes"]
    assert (note["kind"], note["invoice"], note["tenant"]) == ("credit", issued["id"], "acme")
    assert note["amount"] == old - new and note["total"] == old - new and note["to_wallet"]
    assert note["supplier_share"] + note["commission"] == note["amount"]
    (line,) = note["lines"]
    assert Decimal(line["old_amount"]) == old and Decimal(line["new_amount"]) == new
    assert doc["by"] == "operator" and doc["reason"] == "contract said 9 for the pilot hour"
    assert doc["old_prices"] and doc["old_prices"][0]["correction"] is None
    after = billing.invoice_doc(demo, operator, issued["id"])
    noted = {"notes", "credit_notes_total", "debit_notes_total", "balance_after_notes", "outstanding"}
    assert {k: v for k, v in after.items() if k not in noted} == \
           {k: v for k, v in before.items() if k not in noted}  # the issued invoice is unchanged
    assert [n["id"] for n in after["notes"]] == [note["id"]]  # and lists the note, with the balance after it
    assert after["balance_after_notes"] == after["total"] - note["total"]
    _ledger_sums_to_zero(demo, operator)
    (listed,) = corrections.list_corrections(demo, operator)
    assert listed["id"] == doc["id"] and listed["notes"][0]["id"] == note["id"]
    # the wallet holds the credit
    from suanli.service import wallets
    assert wallets.show_wallet(demo, tenant)["balance"] == note["total"]


def test_a_higher_past_price_is_a_debit_note_and_the_ledger_balances(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _lease_8_to_10(demo, tenant, clock, devices=1)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    billing.issue_invoice(demo, operator, "acme", "2026-11")
    doc = corrections.correct_price(demo, operator, "H800", "30", FROM, TO, "under-billed: wrong price loaded",
                                    site="sh-east-1")
    (note,) = doc["notes"]
    diff = round_line(LIST * 4771 / 3600) + round_line(Decimal(30) * 2429 / 3600) - round_line(LIST * 2)
    assert note["kind"] == "debit" and note["amount"] == diff and not note["to_wallet"]
    assert note["supplier_share"] + note["commission"] == diff and note["supplier_share"] > 0
    _ledger_sums_to_zero(demo, operator)


def test_a_month_not_issued_yet_is_rated_with_the_corrected_price(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _lease_8_to_10(demo, tenant, clock)
    clock.set(datetime(2026, 11, 25, tzinfo=UTC))
    doc = corrections.correct_price(demo, operator, "H800", "9", FROM, TO, "pilot price")
    assert doc["notes"] == []  # nothing issued: no note
    lines = sorted(billing.preview(demo, tenant, "2026-11").rated.lines, key=lambda x: x.start)
    assert [(x.start, x.unit_price, x.quantity) for x in lines] == [
        (T, LIST, Decimal(2 * (2971 + 1800)) / 3600), (FROM, Decimal(9), Decimal(2 * 2429) / 3600)]
    # and issuing the month later bills it so, with no note to add
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert sum(x["amount"] for x in issued["lines"]) == sum(x.amount for x in lines)


def test_two_corrections_stack_and_a_correction_back_cancels(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _lease_8_to_10(demo, tenant, clock)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    billing.issue_invoice(demo, operator, "acme", "2026-11")
    a = corrections.correct_price(demo, operator, "H800", "9", FROM, TO, "first")
    b = corrections.correct_price(demo, operator, "H800", str(LIST.quantize(Decimal("0.000001"))), FROM, TO, "undo")
    assert a["notes"][0]["kind"] == "credit" and b["notes"][0]["kind"] == "debit"
    assert abs(a["notes"][0]["amount"] - b["notes"][0]["amount"]) <= Decimal("0.01")
    assert b["old_prices"][-1]["correction"] == a["id"]
    _ledger_sums_to_zero(demo, operator)


@pytest.mark.parametrize(("kw", "says"), [
    ({"amount": "0"}, "> 0"), ({"amount": "1e12"}, "largest"), ({"amount": "NaN"}, "finite"),
    ({"reason": "  "}, "needs a reason"), ({"end": datetime(2026, 11, 24, tzinfo=UTC)}, "in the future"),
    ({"start": TO, "end": FROM}, "end after it starts"), ({"unit": "per_minute"}, "allowed: device_hour, p_year"),
])
def test_bad_corrections_are_422s_and_write_nothing(demo: Platform, operator: Principal, kw: dict[str, object],
                                                    says: str) -> None:
    args: dict[str, object] = {"amount": "9", "start": FROM, "end": TO, "reason": "r", "unit": "device_hour"}
    args.update(kw)
    with pytest.raises(ValidationError, match=says):
        corrections.correct_price(demo, operator, "H800", args["amount"], args["start"], args["end"],  # type: ignore[arg-type]
                                  args["reason"], unit=args["unit"])  # type: ignore[arg-type]
    assert corrections.list_corrections(demo, operator) == []


def test_only_the_operator_corrects_and_a_supplier_reads_none(demo: Platform, operator: Principal,
                                                             tenant: Principal) -> None:
    from suanli.service import accounts

    with pytest.raises(PermissionDeniedError):
        corrections.correct_price(demo, tenant, "H800", "1", FROM, TO, "mine")
    supplier, _ = accounts.create_account(demo, operator, "sup", "supplier", "huadong-idc")
    with pytest.raises(PermissionDeniedError):
        corrections.correct_price(demo, supplier, "H800", "1", FROM, TO, "mine")
    with pytest.raises(PermissionDeniedError):
        corrections.list_corrections(demo, supplier)


def test_an_invoice_with_correction_notes_cannot_be_voided(demo: Platform, operator: Principal, tenant: Principal,
                                                           clock: FakeClock) -> None:
    from suanli.errors import ConflictError

    _lease_8_to_10(demo, tenant, clock)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    doc = corrections.correct_price(demo, operator, "H800", "9", FROM, TO, "pilot price")
    with pytest.raises(ConflictError, match="price-correction notes") as e:
        billing.void_invoice(demo, operator, issued["id"], "re-issue")
    assert e.value.details["notes"] == [doc["notes"][0]["id"]]
    _ledger_sums_to_zero(demo, operator)


def test_a_correction_elsewhere_issues_no_note(demo: Platform, operator: Principal, tenant: Principal,
                                               clock: FakeClock) -> None:
    _lease_8_to_10(demo, tenant, clock)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert corrections.correct_price(demo, operator, "L20", "1", FROM, TO, "other model")["notes"] == []
    later = datetime(2026, 11, 23, 10, 0, 1, tzinfo=UTC)
    assert corrections.correct_price(demo, operator, "H800", "1", later, datetime(2026, 11, 30, tzinfo=UTC),
                                     "after the lease")["notes"] == []
    assert len(corrections.list_corrections(demo, operator)) == 2
    _ledger_sums_to_zero(demo, operator)


def test_a_tenant_sees_the_notes_on_its_own_invoices_only(demo: Platform, operator: Principal, tenant: Principal,
                                                          clock: FakeClock) -> None:
    from suanli.testing.factories import make_tenant

    other = make_tenant(demo, operator, "other")
    _lease_8_to_10(demo, tenant, clock)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    billing.issue_invoice(demo, operator, "acme", "2026-11")
    doc = corrections.correct_price(demo, operator, "H800", "9", FROM, TO, "pilot price")
    (mine,) = corrections.list_corrections(demo, tenant)
    assert mine["id"] == doc["id"] and [n["id"] for n in mine["notes"]] == [doc["notes"][0]["id"]]
    assert "supplier_share" not in mine["notes"][0] and "commission" not in mine["notes"][0]["lines"][0]
    assert mine["notes"][0]["total"] == doc["notes"][0]["total"]
    assert corrections.list_corrections(demo, other) == []

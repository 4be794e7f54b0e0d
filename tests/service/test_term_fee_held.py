"""A term fee never pays for capacity the tenant no longer holds (SQLite and PostgreSQL).

A term's fee is billed in advance for each term period; it pays for the device-seconds the plan's
reservation holds. A plan ended early, or a reservation whose node failed and that could not be
re-placed for a while, holds less: the draft bills ``fee_for(device-seconds held)`` and an issued
fee gets a credit note for the rest, so ``fee - credits = round_line(device-seconds held x rate /
3,600)`` to the cent, and the ledger still balances.

The demo fleet has 32 H800 (4 nodes x 8): a reservation of more than 24 cannot be re-placed while
one node is down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from suanli.domain.accounts import Principal
from suanli.domain.leases import LeaseState
from suanli.service import billing, fleet, health, leases, plans
from suanli.service.platform import Platform
from suanli.store import billing as billing_store
from suanli.store.tables import AllocationRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)  # the clock fixture's start
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
HOUR = 3600


def fee_for(device_seconds: int | Decimal, hourly: Decimal) -> Decimal:
    """The documented rule, written out: device-seconds x hourly / 3,600, rounded half up once."""
    return (Decimal(device_seconds) * hourly / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)


def term(p: Platform, op: Principal, tenant: str, devices: int, start: datetime, **more: Any) -> dict[str, Any]:
    return plans.create_plan(p, op, {"tenant": tenant, "kind": "term", "term": "month", "term_model": "H800",
                                     "term_devices": devices, "discount": "0.2", "paid": True,
                                     "effective_from": start.isoformat(), **more})


def fee_lines(doc: dict[str, Any], plan_id: str) -> list[dict[str, Any]]:
    return [x for x in doc["lines"] if x["kind"] == "term_fee" and x["plan"] == plan_id]


def notes_of(doc: dict[str, Any], plan_id: str) -> list[dict[str, Any]]:
    return [n for n in doc["credit_notes"] if f"term fee of plan {plan_id} " in n["reason"]]


def ledger_balances(p: Platform, op: Principal) -> None:
    check = billing.ledger_check(p, op)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []


def fail_node(p: Platform, op: Principal, node: str) -> health.HealthReport:
    fleet.set_node_state(p, op, node, "down", "PSU failed")
    return health.check_health(p)


def heal_node(p: Platform, op: Principal, node: str) -> health.HealthReport:
    fleet.set_node_state(p, op, node, "available", "PSU replaced")
    return health.check_health(p)


def a_node_of(p: Platform, op: Principal, lease_id: str) -> str:
    return next(a.node for a in leases.get_lease(p, op, lease_id)[0].allocations if a.end is None)


def test_ending_a_term_early_credits_the_issued_fee_for_the_time_after_the_end(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, "acme", 8, NOW)  # term period Nov 23 08:00 -> Dec 23 08:00, on November's invoice
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (fee,) = fee_lines(nov, pl["id"])
    assert fee["quantity"] == 8 * 720
    clock.set(datetime(2026, 12, 5, 12, tzinfo=UTC))
    plans.end_plan(demo, operator, pl["id"])
    doc = billing.invoice_doc(demo, operator, nov["id"])
    (note,) = notes_of(doc, pl["id"])
    held = 8 * int((clock.now() - NOW).total_seconds())
    hourly = Decimal(fee["unit_price"])
    assert note["amount"] == fee["amount"] - fee_for(held, hourly)
    assert pl["id"] in note["reason"] and "plan ended at 2026-12-05T12:00:00+00:00" in note["reason"]
    assert note["to_wallet"] is False and doc["amount_due"] == nov["amount_due"] - note["amount"]
    ledger_balances(demo, operator)
    # ending it is not refunded twice; nothing else is credited
    plans.list_plans(demo, operator, "acme")
    assert len(notes_of(billing.invoice_doc(demo, operator, nov["id"]), pl["id"])) == 1


def test_a_manual_credit_note_worded_like_a_term_fee_note_is_not_taken_for_one(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, "acme", 8, NOW)
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (fee,) = fee_lines(nov, pl["id"])
    billing.credit_note(demo, operator, nov["id"], Decimal("100.00"),
                        f"term fee of plan {pl['id']} for {NOW.isoformat()} goodwill")  # a manual note
    clock.set(datetime(2026, 12, 5, 12, tzinfo=UTC))
    plans.end_plan(demo, operator, pl["id"])
    doc = billing.invoice_doc(demo, operator, nov["id"])
    (manual,) = [n for n in doc["credit_notes"] if n["reason"].endswith("goodwill")]
    (note,) = [n for n in notes_of(doc, pl["id"]) if n["id"] != manual["id"]]
    held = 8 * int((clock.now() - NOW).total_seconds())
    assert note["amount"] == fee["amount"] - fee_for(held, Decimal(fee["unit_price"]))  # the manual 100.00 aside
    ledger_balances(demo, operator)


def test_ending_a_term_later_then_earlier_credits_each_part_once(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, "acme", 4, NOW)
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    billing.pay_invoice(demo, operator, nov["id"])
    (fee,) = fee_lines(nov, pl["id"])
    hourly = Decimal(fee["unit_price"])
    plans.end_plan(demo, operator, pl["id"], at=datetime(2026, 12, 15, tzinfo=UTC))
    plans.end_plan(demo, operator, pl["id"], at=datetime(2026, 12, 10, tzinfo=UTC))
    doc = billing.invoice_doc(demo, operator, nov["id"])
    notes = notes_of(doc, pl["id"])
    assert len(notes) == 2 and all(n["to_wallet"] for n in notes)  # paid: to the wallet
    held = 4 * int((datetime(2026, 12, 10, tzinfo=UTC) - NOW).total_seconds())
    assert fee["amount"] - sum(n["amount"] for n in notes) == fee_for(held, hourly)
    ledger_balances(demo, operator)


def test_a_draft_bills_the_fee_only_for_the_time_before_the_end(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, "acme", 8, NOW)
    clock.advance(days=2)
    plans.end_plan(demo, operator, pl["id"])
    draft = billing.month_invoice(demo, operator, "2026-11", "acme")
    (fee,) = fee_lines(draft, pl["id"])
    held = 8 * 2 * 24 * HOUR
    assert Decimal(fee["quantity"]) == 8 * 48 and fee["amount"] == fee_for(held, Decimal(fee["unit_price"]))
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert fee_lines(nov, pl["id"])[0]["amount"] == fee["amount"] and notes_of(nov, pl["id"]) == []


def test_a_reservation_that_cannot_be_replaced_is_not_billed_for_the_time_without_devices(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, "acme", 32, NOW)  # the whole fleet: no room to re-place it while a node is down
    node = a_node_of(demo, operator, pl["reservation"])
    clock.advance(hours=2)
    report = fail_node(demo, operator, node)
    assert pl["reservation"] in report.still_interrupted
    clock.advance(hours=10)
    # while it waits, the draft presumes the devices back from now on: only the 10 h without them are left out
    draft = billing.month_invoice(demo, operator, "2026-11", "acme")
    (fee,) = fee_lines(draft, pl["id"])
    hourly = Decimal(fee["unit_price"])
    assert fee["amount"] == fee_for(32 * (720 - 10) * HOUR, hourly)
    clock.advance(hours=3)
    assert pl["reservation"] in heal_node(demo, operator, node).replaced
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (fee,) = fee_lines(nov, pl["id"])
    assert fee["amount"] == fee_for(32 * (720 - 13) * HOUR, hourly) and notes_of(nov, pl["id"]) == []
    # after the issue: a day without devices is a credit note on November's invoice, once it is known
    clock.set(datetime(2026, 12, 2, tzinfo=UTC))
    fail_node(demo, operator, node)
    assert notes_of(billing.invoice_doc(demo, operator, nov["id"]), pl["id"]) == []
    clock.advance(hours=24)
    heal_node(demo, operator, node)
    (note,) = notes_of(billing.invoice_doc(demo, operator, nov["id"]), pl["id"])
    assert note["amount"] == fee["amount"] - fee_for(32 * (720 - 13 - 24) * HOUR, hourly)
    assert "had no devices after a failure" in note["reason"]
    ledger_balances(demo, operator)


def test_a_plan_ended_while_its_reservation_waits_is_credited_and_never_replaced(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, "acme", 32, NOW)
    node = a_node_of(demo, operator, pl["reservation"])
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (fee,) = fee_lines(nov, pl["id"])
    clock.set(datetime(2026, 12, 3, tzinfo=UTC))
    fail_node(demo, operator, node)
    clock.advance(hours=5)
    plans.end_plan(demo, operator, pl["id"])
    assert leases.get_lease(demo, operator, pl["reservation"])[0].state is LeaseState.ENDED
    (note,) = notes_of(billing.invoice_doc(demo, operator, nov["id"]), pl["id"])
    held = 32 * int((datetime(2026, 12, 3, tzinfo=UTC) - NOW).total_seconds())
    assert fee["amount"] - note["amount"] == fee_for(held, Decimal(fee["unit_price"]))
    heal_node(demo, operator, node)  # the ended reservation is not brought back
    res = leases.get_lease(demo, operator, pl["reservation"])[0]
    assert res.state is LeaseState.ENDED and all(a.end is not None for a in res.allocations)
    ledger_balances(demo, operator)


def test_a_take_or_pay_commits_only_for_the_time_it_held_its_devices(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    """16 RTX-4090 (3 nodes x 8): with two nodes down, 8 remain and the reservation waits."""
    pl = plans.create_plan(demo, operator, {
        "tenant": "acme", "kind": "commit", "paid": True, "commit_meter": "device_seconds",
        "commit_model": "RTX-4090", "commit_devices": 16, "commit_quantity": "720", "commit_price": "1.50",
        "effective_to": DEC1.isoformat()})
    nodes = sorted({a.node for a in leases.get_lease(demo, operator, pl["reservation"])[0].allocations})
    assert len(nodes) >= 2
    clock.advance(hours=24)
    for n in nodes[:2]:  # 8 RTX-4090 left up: no room for 16
        fleet.set_node_state(demo, operator, n, "down", "PSU failed")
    assert pl["reservation"] in health.check_health(demo).still_interrupted
    clock.advance(hours=48)
    for n in nodes[:2]:
        fleet.set_node_state(demo, operator, n, "available", "fixed")
    assert pl["reservation"] in health.check_health(demo).replaced
    clock.set(DEC1)
    (true_up,) = [x for x in billing.issue_invoice(demo, operator, "acme", "2026-11")["lines"]
                  if x["kind"] == "commit_true_up"]
    plan_secs = int((DEC1 - NOW).total_seconds())
    committed = Decimal(720) * (plan_secs - 48 * HOUR) / (30 * 24 * HOUR)  # 720 x (184 - 48) h / 720 h
    assert committed == 136
    assert Decimal(true_up["quantity"]) == committed
    assert true_up["amount"] == (committed * Decimal("1.50")).quantize(Decimal("0.01"), ROUND_HALF_UP)


# --- property: fee billed - credits = fee_for(device-seconds held), whatever fails and ends when ---

OUTAGE = st.tuples(st.integers(0, 12), st.integers(1, 12))
"""(hours before the node fails, hours it stays down)."""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(devices=st.integers(20, 32), offset=st.integers(0, 47), before=st.lists(OUTAGE, max_size=2),
       after=st.lists(OUTAGE, max_size=2), end_in=st.integers(0, 400))
@example(devices=32, offset=0, before=[(1, 5)], after=[(2, 7)], end_in=3)
@example(devices=24, offset=5, before=[(0, 3)], after=[], end_in=0)
def test_fee_less_credits_is_the_rate_times_the_device_seconds_held(
        demo: Platform, operator: Principal, clock: FakeClock, devices: int, offset: int,
        before: list[tuple[int, int]], after: list[tuple[int, int]], end_in: int) -> None:
    who = make_tenant(demo, operator, f"t-{clock.now().strftime('%Y%m%d%H%M%S')}")
    month = (clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
    start = month + timedelta(days=20, hours=offset)
    clock.set(start)
    pl = term(demo, operator, who.name, devices, start)
    node = a_node_of(demo, operator, pl["reservation"])
    gaps: list[tuple[datetime, datetime]] = []  # when the reservation held nothing (no room to re-place it)

    def outages(events: list[tuple[int, int]]) -> None:
        for wait, down in events:
            clock.advance(hours=wait)
            t0 = clock.now()
            fail_node(demo, operator, node)
            clock.advance(hours=down)
            heal_node(demo, operator, node)
            if devices > 24:
                gaps.append((t0, clock.now()))

    outages(before)
    next_month = (month + timedelta(days=32)).replace(day=1)
    clock.set(next_month)
    issued = billing.issue_invoice(demo, operator, who.name, f"{month.year:04d}-{month.month:02d}")
    (fee,) = fee_lines(issued, pl["id"])
    outages(after)
    end = clock.now() + timedelta(hours=end_in)
    plans.end_plan(demo, operator, pl["id"], at=end if end_in else None)
    a, b = start, min(datetime.fromisoformat(fee["end"]) if isinstance(fee["end"], str) else fee["end"], end)

    def held(lo: datetime, hi: datetime) -> int:
        secs = int((hi - lo).total_seconds())
        for g0, g1 in gaps:
            o0, o1 = max(g0, lo), min(g1, hi)
            secs -= max(0, int((o1 - o0).total_seconds()))
        return devices * secs

    hourly = Decimal(fee["unit_price"])
    notes = notes_of(billing.invoice_doc(demo, operator, issued["id"]), pl["id"])
    assert fee["amount"] - sum((n["amount"] for n in notes), Decimal(0)) == fee_for(held(a, b), hourly)
    # the database's own record of what the reservation held says the same
    with demo.tx() as s:
        rows = list(s.scalars(select(AllocationRow).where(AllocationRow.lease_id == pl["reservation"])))
    recorded = sum(max(0, int((min(r.end_at or b, b) - max(r.start_at, a)).total_seconds())) for r in rows)
    assert recorded == held(a, b)
    # the next period's fee, if the plan reached it, is on the next month's draft for what it held
    if end > b:
        draft = billing.month_invoice(demo, operator, f"{next_month.year:04d}-{next_month.month:02d}", who.name)
        (nxt,) = fee_lines(draft, pl["id"])
        assert nxt["amount"] == fee_for(held(b, end), Decimal(nxt["unit_price"]))
    ledger_balances(demo, operator)
    with demo.tx() as s:
        assert all(n.amount > 0 for n in billing_store.credit_notes(s, issued["id"]))


def test_an_end_racing_the_issue_of_the_month_credits_the_fee_once_either_way(
        demo: Platform, operator: Principal, clock: FakeClock) -> None:
    """Ending a plan and issuing the month of its fee at once: the invoice is either issued first
    (and credited by the end) or rated with the end; fee - credits is the fee for the time held."""
    from concurrent.futures import ThreadPoolExecutor
    names = [make_tenant(demo, operator, f"race-{i}").name for i in range(4)]
    made = {n: term(demo, operator, n, 8, NOW) for n in names}
    clock.set(datetime(2026, 12, 2, tzinfo=UTC))
    with ThreadPoolExecutor(8) as pool:
        issued = [pool.submit(billing.issue_invoice, demo, operator, n, "2026-11") for n in names]
        ended = [pool.submit(plans.end_plan, demo, operator, made[n]["id"]) for n in names]
        docs = [f.result() for f in issued]
        [f.result() for f in ended]
    held = 8 * int((clock.now() - NOW).total_seconds())
    for n, doc in zip(names, docs, strict=True):
        (fee,) = fee_lines(doc, made[n]["id"])
        notes = notes_of(billing.invoice_doc(demo, operator, doc["id"]), made[n]["id"])
        assert fee["amount"] - sum((x["amount"] for x in notes), Decimal(0)) == fee_for(held, Decimal(fee["unit_price"]))
    ledger_balances(demo, operator)


def test_an_invoice_whose_term_fee_was_credited_cannot_be_voided(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    """Issuing the month again bills the fee for what is held: the note would be given twice."""
    from suanli.errors import ConflictError
    pl = term(demo, operator, "acme", 8, NOW)
    clock.set(DEC1)
    nov = billing.issue_invoice(demo, operator, "acme", "2026-11")
    plans.end_plan(demo, operator, pl["id"])
    (note,) = notes_of(billing.invoice_doc(demo, operator, nov["id"]), pl["id"])
    with pytest.raises(ConflictError, match=f"term fee credit notes \\({note['id']}\\)"):
        billing.void_invoice(demo, operator, nov["id"], "wrong month")
    assert billing.invoice_doc(demo, operator, nov["id"])["status"] == "issued"
    ledger_balances(demo, operator)


def test_a_replacement_racing_the_end_of_its_plan_neither_deadlocks_nor_credits_twice(
        demo: Platform, operator: Principal, clock: FakeClock) -> None:
    """The health pass re-places a waiting reservation while the operator ends its plan: both take
    the price-book lock before the reservation's row, so neither waits on the other forever."""
    from concurrent.futures import ThreadPoolExecutor
    for i in range(3):
        name = make_tenant(demo, operator, f"heal-{i}").name
        start = clock.now()
        pl = term(demo, operator, name, 32, start)
        node = a_node_of(demo, operator, pl["reservation"])
        month = f"{start.year:04d}-{start.month:02d}"
        clock.set((start.replace(day=1, hour=0) + timedelta(days=32)).replace(day=1))
        doc = billing.issue_invoice(demo, operator, name, month)
        fail_node(demo, operator, node)
        clock.advance(hours=6)
        fleet.set_node_state(demo, operator, node, "available", "PSU replaced")
        with ThreadPoolExecutor(2) as pool:
            healed = pool.submit(health.check_health, demo)
            ended = pool.submit(plans.end_plan, demo, operator, pl["id"])
            healed.result()
            ended.result()
        (fee,) = fee_lines(doc, pl["id"])
        notes = notes_of(billing.invoice_doc(demo, operator, doc["id"]), pl["id"])
        held = 32 * int((clock.now() - start).total_seconds() - 6 * HOUR)
        assert fee["amount"] - sum((n["amount"] for n in notes), Decimal(0)) == fee_for(held, Decimal(fee["unit_price"]))
        assert leases.get_lease(demo, operator, pl["reservation"])[0].state is LeaseState.ENDED
        clock.advance(hours=1)
    ledger_balances(demo, operator)

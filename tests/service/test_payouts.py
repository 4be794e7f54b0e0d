"""Supplier payouts under contention: two payouts at once never pay more than is owed (the supplier's
row is locked while the payable balance is read), on SQLite and PostgreSQL; a retry with the same key
records once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from suanli.domain.accounts import Principal
from suanli.errors import ConflictError, ValidationError
from suanli.ledger.postings import payable
from suanli.service import billing, orders, payouts
from suanli.service.platform import Platform
from suanli.store import ledger as ledger_store
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

SUP = "huadong-idc"


def _owed(demo: Platform, operator: Principal, clock: FakeClock) -> Decimal:
    t = make_tenant(demo, operator, "acme")
    orders.create_order(demo, t, {"form": "gpu", "quantity": 8, "models": ["H800"]})
    clock.advance(hours=6)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    billing.issue_invoice(demo, operator, "acme", "2026-11")
    with demo.read() as s:
        owed = -ledger_store.balance(s, payable(SUP))
    assert owed > 1
    return owed


@pytest.mark.second_connection  # the test's own connection watches pg_locks while it holds the row
def test_two_payouts_at_once_never_pay_more_than_is_owed(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    owed = _owed(demo, operator, clock)
    part = (owed * Decimal("0.6")).quantize(Decimal("0.01"))
    results: list[tuple[str, Decimal]] = []
    start = threading.Barrier(3)

    def pay(key: str) -> None:
        start.wait(timeout=60)
        try:
            payouts.record_payout(demo, operator, SUP, part, idempotency_key=key)
            results.append(("paid", part))
        except ConflictError as e:
            results.append(("409", Decimal(str(e.details.get("owed")))))

    threads = [threading.Thread(target=pay, args=(f"k{i}",)) for i in range(2)]
    holder = None
    if demo.dialect == "postgresql":  # hold the supplier's row: both payouts must queue behind it
        holder = demo.engine.connect()
        holder.execute(text("SELECT name FROM suppliers WHERE name = :s FOR UPDATE"), {"s": SUP})
    for th in threads:
        th.start()
    start.wait(timeout=60)
    if holder is not None:
        deadline = time.monotonic() + 60
        with demo.engine.connect() as c:  # until both are blocked on the row held above
            while c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one() < 2:
                assert time.monotonic() < deadline, "the payouts did not wait for the supplier's row"
                time.sleep(0.02)  # polling the database for the blocked backends, bounded
                c.rollback()
        holder.rollback()
        holder.close()
    for th in threads:
        th.join(timeout=60)
    assert sorted(results) == [("409", owed - part), ("paid", part)]  # the second saw what the first paid
    with demo.read() as s:
        assert -ledger_store.balance(s, payable(SUP)) == owed - part
    assert len(payouts.list_payouts(demo, operator, SUP)) == 1


@pytest.mark.parametrize("amount", ["0", "-1", "0.001", "1e30"])
def test_a_bad_amount_is_refused_before_anything(demo: Platform, operator: Principal, amount: str) -> None:
    with pytest.raises(ValidationError):
        payouts.record_payout(demo, operator, SUP, Decimal(amount))
    assert payouts.list_payouts(demo, operator) == []

"""The order queue through the service layer (docs/queue.md), on real SQLite and PostgreSQL: an
order waits and is granted when a lease ends (granted time = that pass), fair share, priority,
backfill, deadlines, cancel, idempotency, spot preemption with notice, and "when?" = the actual start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import DBAPIError

from suanli.domain.accounts import Principal
from suanli.domain.leases import LeaseState
from suanli.errors import CapacityError, ValidationError
from suanli.service import leases, order_queue, orders, plans, when
from suanli.service.platform import Platform
from suanli.service.reconcile import run_pass
from suanli.store.leases import OrderRecord
from suanli.store.queue_tables import OrderQueueRow
from suanli.store.tables import AllocationRow, OrderRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

A800_SERVER: dict[str, Any] = {"form": "server", "models": ["A800"]}


def fulfilled(p: Platform, who: Principal, **raw: Any) -> str:
    res = orders.create_order(p, who, raw)
    assert res.order.status == "fulfilled", res.order.reason
    assert res.order.lease_id is not None
    return res.order.lease_id


def wait(p: Platform, who: Principal, clock: FakeClock, key: str | None = None, **raw: Any) -> OrderRecord:
    raw.setdefault("wait_until", clock.now() + timedelta(hours=6))
    clock.advance(seconds=1)  # arrivals in a known order (equal arrivals go by order id)
    res = orders.create_order(p, who, raw, idempotency_key=key)
    assert res.order.status == "queued", res.order.reason
    assert res.order.lease_id is None
    return res.order


def fill_a800(p: Platform, who: Principal, hours: int = 1) -> list[str]:
    return [fulfilled(p, who, **A800_SERVER, hours=hours) for _ in range(2)]


def test_waits_then_granted_when_a_lease_ends_at_that_instant(demo: Platform, tenant: Principal,
                                                               operator: Principal, clock: FakeClock) -> None:
    fill_a800(demo, tenant, hours=1)
    other = make_tenant(demo, operator, "beta")
    asked = when.when(demo, other, {"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 2})
    assert asked.start == clock.now() + timedelta(hours=1) and not asked.now
    queued = wait(demo, other, clock, form="gpu", quantity=8, models=["A800"], hours=2)
    entries = order_queue.list_queue(demo, other)
    assert [(e.order.order_id, e.position) for e in entries] == [(queued.id, 1)]
    assert entries[0].estimated_start == asked.start
    with demo.tx() as s:  # nothing held while it waits
        assert s.scalar(select(func.count()).select_from(AllocationRow)) == 16
    clock.advance(minutes=30)
    assert order_queue.run_queue(demo).granted == []
    clock.set(asked.start)  # the instant the leases end
    out = run_pass(demo)  # the background pass: the terms end, then the queue places the order
    assert out["queue"]["granted"] == [queued.id]
    (got,) = [o for o in orders.list_orders(demo, other) if o.id == queued.id]
    assert got.status == "fulfilled" and got.lease_id is not None
    lease, _ = leases.get_lease(demo, other, got.lease_id)
    assert lease.state is LeaseState.ACTIVE
    assert lease.start == asked.start == lease.activated_at  # "when" was the actual start
    assert lease.end == asked.start + timedelta(hours=2)  # its term counts from the grant
    assert got.created_at == queued.created_at  # the order keeps its arrival


def test_without_wait_until_it_is_refused_as_today_and_never_fit_is_422(demo: Platform, tenant: Principal,
                                                                        clock: FakeClock) -> None:
    fill_a800(demo, tenant)
    with pytest.raises(CapacityError):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["A800"]})
    with pytest.raises(ValidationError, match="no node can hold 9"):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 9, "models": ["A800"],
                                           "wait_until": clock.now() + timedelta(hours=1)})


@pytest.mark.parametrize(("extra", "field", "message"), [
    ({"wait_until": "past"}, "wait_until", "is not in the future"),
    ({"wait_until": "far"}, "wait_until", "waits at most 30 days"),
    ({"priority": "urgent"}, "priority", "allowed: high, normal, low"),
    ({"priority": "high"}, "priority", "priority high is not allowed"),
])
def test_bad_queue_input_is_422_naming_the_field(demo: Platform, tenant: Principal, clock: FakeClock,
                                                 extra: dict[str, Any], field: str, message: str) -> None:
    raw: dict[str, Any] = {"form": "gpu", "quantity": 1, "models": ["A800"], **extra}
    if raw.get("wait_until") == "past":
        raw["wait_until"] = clock.now() - timedelta(minutes=1)
    elif raw.get("wait_until") == "far":
        raw["wait_until"] = clock.now() + timedelta(days=31)
    with pytest.raises(ValidationError, match=message) as e:
        orders.create_order(demo, tenant, raw)
    assert e.value.details.get("field") == field
    assert orders.list_orders(demo, tenant) == []


def test_operator_allows_high_and_high_is_served_first(demo: Platform, tenant: Principal, operator: Principal,
                                                       clock: FakeClock) -> None:
    fill_a800(demo, tenant)
    beta = make_tenant(demo, operator, "beta")
    gamma = make_tenant(demo, operator, "gamma")
    order_queue.set_weight(demo, operator, "gamma", "1", allow_high=True)
    low = wait(demo, beta, clock, form="server", models=["A800"], hours=1)
    high = wait(demo, gamma, clock, form="server", models=["A800"], hours=1, priority="high")
    assert [e.order.order_id for e in order_queue.list_queue(demo, operator)] == [high.id, low.id]
    leases.end_lease(demo, tenant, leases.list_leases(demo, tenant, state="active")[0].id)
    report = order_queue.run_queue(demo)
    assert report.granted == [high.id] and report.head == low.id


def test_fair_share_weights_two_to_one(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    owner = make_tenant(demo, operator, "owner")
    heavy = make_tenant(demo, operator, "heavy")
    light = make_tenant(demo, operator, "light")
    order_queue.set_weight(demo, operator, "heavy", "2")
    # the 16 L20 are taken; then each freed L20 goes to the queue, one at a time
    held = [fulfilled(demo, owner, form="gpu", quantity=1, models=["L20"]) for _ in range(16)]
    for _ in range(12):
        wait(demo, heavy, clock, form="gpu", quantity=1, models=["L20"])
        wait(demo, light, clock, form="gpu", quantity=1, models=["L20"])
    for lease_id in held[:12]:
        leases.end_lease(demo, owner, lease_id)
        order_queue.run_queue(demo)
    got = {t.name: sum(1 for o in orders.list_orders(demo, t) if o.status == "fulfilled") for t in (heavy, light)}
    assert got == {"heavy": 8, "light": 4}


def test_backfill_does_not_delay_the_head(demo: Platform, tenant: Principal, operator: Principal,
                                          clock: FakeClock) -> None:
    t0 = clock.now()
    one, _two = fill_a800(demo, tenant, hours=3)
    beta = make_tenant(demo, operator, "beta")
    gamma = make_tenant(demo, operator, "gamma")
    head = wait(demo, beta, clock, form="server", quantity=2, models=["A800"], hours=1)
    short = wait(demo, gamma, clock, key="short", form="gpu", quantity=8, models=["A800"], hours=2)
    long = wait(demo, gamma, clock, key="long", form="gpu", quantity=8, models=["A800"], hours=5)
    leases.end_lease(demo, tenant, one)  # 8 A800 free now; the head needs 16: its earliest start is +3h
    report = order_queue.run_queue(demo)
    assert report.head == head.id and report.head_start == t0 + timedelta(hours=3)
    assert report.backfilled == [short.id]  # ends by +3h: it cannot delay the head
    assert long.id not in report.granted  # it would hold the devices past +3h
    clock.set(t0 + timedelta(hours=3))
    out = run_pass(demo)
    assert head.id in out["queue"]["granted"]


def test_deadline_passes_rejected_with_reason_the_tenant_sees(demo: Platform, tenant: Principal,
                                                               clock: FakeClock) -> None:
    fill_a800(demo, tenant, hours=5)
    q = wait(demo, tenant, clock, form="gpu", quantity=1, models=["A800"], wait_until=clock.now() + timedelta(hours=1))
    clock.advance(hours=1, seconds=1)
    assert order_queue.run_queue(demo).expired == [q.id]
    (got,) = [o for o in orders.list_orders(demo, tenant) if o.id == q.id]
    assert got.status == "rejected" and got.reason.startswith("deadline passed")
    assert got.lease_id is not None
    lease, events = leases.get_lease(demo, tenant, got.lease_id)
    assert lease.state is LeaseState.REJECTED and events[0]["reason"].startswith("deadline passed")
    assert order_queue.list_queue(demo, tenant) == []


def test_cancel_and_idempotency_of_a_queued_order(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    fill_a800(demo, tenant)
    q = wait(demo, tenant, clock, key="k1", form="gpu", quantity=1, models=["A800"])
    again = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["A800"],
                                               "wait_until": clock.now() + timedelta(hours=6)}, idempotency_key="k1")
    assert again.replayed and again.order.id == q.id and again.order.status == "queued"
    cancelled = orders.cancel_order(demo, tenant, q.id)
    assert cancelled.status == "cancelled"
    with demo.tx() as s:
        assert s.scalar(select(OrderQueueRow.state).where(OrderQueueRow.order_id == q.id)) == "cancelled"
    assert order_queue.list_queue(demo, tenant) == []


def test_order_status_is_checked_by_the_database(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    fill_a800(demo, tenant)
    q = wait(demo, tenant, clock, form="gpu", quantity=1, models=["A800"])
    with pytest.raises(DBAPIError), demo.tx() as s:
        s.execute(update(OrderRow).where(OrderRow.id == q.id).values(status="waiting-forever"))


def test_spot_lease_yields_to_a_queued_on_demand_order_with_notice(demo: Platform, tenant: Principal,
                                                                    operator: Principal, clock: FakeClock) -> None:
    spotter = make_tenant(demo, operator, "spotter")
    plans.create_plan(demo, operator, {"tenant": "spotter", "kind": "spot", "discount": "0.5"})
    spot_leases = [fulfilled(demo, spotter, **A800_SERVER) for _ in range(2)]
    q = wait(demo, tenant, clock, form="server", models=["A800"], hours=1)
    report = order_queue.run_queue(demo)
    assert len(report.noticed) == 1 and report.noticed[0] in spot_leases
    noticed = report.noticed[0]
    notice_end = clock.now() + timedelta(seconds=demo.settings.spot_notice_seconds)
    lease, events = leases.get_lease(demo, spotter, noticed)
    assert lease.state is LeaseState.ACTIVE and "preemption notice" in events[-1]["reason"]
    assert order_queue.list_queue(demo, tenant)[0].estimated_start == notice_end
    assert order_queue.preempt_at(demo, spotter, noticed) == notice_end
    clock.advance(seconds=demo.settings.spot_notice_seconds + 7)
    report = order_queue.run_queue(demo)
    assert report.preempted == [noticed] and report.granted == [q.id]
    lease, _ = leases.get_lease(demo, spotter, noticed)
    assert lease.state is LeaseState.ENDED and lease.ended_at == notice_end  # never billed after the notice
    assert lease.billable_window(clock.now()) == (lease.activated_at, notice_end)
    assert order_queue.preempt_at(demo, spotter, noticed) is None  # done: no notice pending


def test_a_live_order_may_not_delay_the_head_either(demo: Platform, tenant: Principal, operator: Principal,
                                                    clock: FakeClock) -> None:
    t0 = clock.now()
    one, _two = fill_a800(demo, tenant, hours=3)
    beta = make_tenant(demo, operator, "beta")
    gamma = make_tenant(demo, operator, "gamma")
    head = wait(demo, beta, clock, form="server", quantity=2, models=["A800"], hours=1)
    leases.end_lease(demo, tenant, one)
    report = order_queue.run_queue(demo)
    assert report.head == head.id and report.head_start == t0 + timedelta(hours=3)
    with pytest.raises(CapacityError, match=f"would delay the queued order {head.id}"):
        orders.create_order(demo, gamma, {"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 5})
    waits = wait(demo, gamma, clock, form="gpu", quantity=8, models=["A800"], hours=5)  # it may wait instead
    assert waits.status == "queued"
    fulfilled(demo, gamma, form="gpu", quantity=8, models=["A800"], hours=2)  # ends by the head's start: fine
    clock.set(t0 + timedelta(hours=3))
    out = run_pass(demo)
    assert head.id in out["queue"]["granted"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_empty_queue_pass_takes_no_placement_lock(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    """The leader's pass over an empty queue does not wait behind the order batches' placement lock (it did
    on every pass: docs/performance.md, "Replicas"); with an order waiting it takes the lock and places it."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(demo.engine, "before_cursor_execute", note)
    try:
        assert order_queue.run_queue(demo).summary() == order_queue.QueueReport().summary()
        assert not any("pg_advisory_xact_lock" in x for x in seen), seen
        fill_a800(demo, tenant, hours=1)
        queued = wait(demo, tenant, clock, form="gpu", quantity=8, models=["A800"], hours=2)
        clock.advance(hours=1)  # the leases' terms end
        leases.tick(demo)
        seen.clear()
        report = order_queue.run_queue(demo)
    finally:
        event.remove(demo.engine, "before_cursor_execute", note)
    assert any("pg_advisory_xact_lock" in x for x in seen)
    assert queued.id in report.granted

"""Recorded time is granted time: a lease and its allocations start at the grant, end when given
up, are never deleted, and billed seconds equal granted seconds. The devices a lease holds are
counted once after a re-placement or a resume.

The clock here ticks while the code runs (:class:`TickingClock`): every reading of it is later
than the one before, as on a busy server, so an instant read too early (at the order's arrival)
shows up as a wrong record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.api.routers.leases import lease_out
from suanli.api.schemas.orders import LeaseResponse
from suanli.cli.leases import device_names
from suanli.domain.accounts import Principal
from suanli.domain.leases import Lease, LeaseState
from suanli.errors import CapacityError
from suanli.ledger.metering import active_intervals, lease_records
from suanli.service import health, jobs, leases, orders, wallets
from suanli.service.platform import Platform
from suanli.store import leases as lease_store
from suanli.testing.clock import FakeClock

T0 = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)


class TickingClock(FakeClock):
    """A FakeClock on which ``step`` seconds pass at every reading (0: a still clock)."""

    step = 0

    def now(self) -> datetime:
        if self.step:
            self.advance(self.step)
        return super().now()


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock(T0)


def granted_seconds(lease: Lease, now: datetime) -> Decimal:
    """Device-seconds the lease's allocations held up to ``now``."""
    total = Decimal(0)
    for a in lease.allocations:
        stop = min(a.end or now, now)
        if stop > a.start:
            total += a.share * int((stop - a.start).total_seconds())
    return total


def billed_seconds(p: Platform, lease_id: str, now: datetime) -> Decimal:
    """Device-seconds the billing meters for the lease (the records a draft rates)."""
    with p.tx() as s:
        lease = lease_store.get_lease(s, lease_id)
        events = [(e["at"], e["from"], e["to"]) for e in lease_store.lease_events(s, lease_id)]
    records = lease_records(lease, active_intervals(lease, events, now), T0 - timedelta(days=1), now)
    return sum((r.quantity for r in records), Decimal(0))


def test_a_lease_starts_at_its_grant_not_at_the_orders_arrival(demo: Platform, tenant: Principal,
                                                               clock: TickingClock) -> None:
    clock.step = 2
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.step = 0
    lease, events = leases.get_lease(demo, tenant, res.order.lease_id or "")
    assert res.order.created_at < lease.start  # the order keeps its arrival; the lease records the grant
    assert lease.activated_at == lease.start == events[0]["at"]
    assert {a.start for a in lease.allocations} == {lease.start}
    # the clock ticked on at every reading after the grant too (the audit trail's, for one)
    since_grant = int((clock.now() - lease.start).total_seconds())
    clock.advance(100)
    assert billed_seconds(demo, lease.id, clock.now()) == granted_seconds(lease, clock.now()) == 2 * (100 + since_grant)


def test_a_lease_ended_in_the_second_it_was_granted_keeps_its_record(demo: Platform, tenant: Principal) -> None:
    res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 25, "memory_mib": 1024,
                                             "models": ["L20"]})
    ended = leases.end_lease(demo, tenant, res.order.lease_id or "")
    assert ended.state is LeaseState.ENDED and ended.ended_at == ended.start
    (a,) = ended.allocations
    assert a.start == a.end == ended.start  # zero-length: held, and billed, for zero seconds
    assert billed_seconds(demo, ended.id, ended.start + timedelta(hours=1)) == 0
    assert jobs.lease_usage(demo, tenant, ended.id)["allocated_device_seconds"] == 0


def test_a_cancelled_reservation_keeps_its_record(demo: Platform, tenant: Principal, clock: TickingClock) -> None:
    start = clock.now() + timedelta(hours=2)
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["A800"],
                                             "start": start, "hours": 1})
    orders.cancel_order(demo, tenant, res.order.id)
    lease, _ = leases.get_lease(demo, tenant, res.order.lease_id or "")
    assert lease.state is LeaseState.CANCELLED
    assert [(a.start, a.end) for a in lease.allocations] == [(start, start)]


STEPS = st.lists(st.tuples(st.sampled_from(["gpu", "slice", "end", "wait"]), st.integers(0, 7200)),
                 min_size=1, max_size=10)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_billed_seconds_equal_granted_seconds(demo: Platform, tenant: Principal, clock: TickingClock,
                                              steps: list[tuple[str, int]]) -> None:
    made: list[str] = []
    for op, seconds in steps:
        clock.step = seconds % 3  # time passes while the service runs
        try:
            if op == "gpu":
                made.append(orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1 + seconds % 3,
                                                               "models": ["RTX-4090"]}).order.lease_id or "")
            elif op == "slice":
                made.append(orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10 + seconds % 50,
                                                               "memory_mib": 1024, "models": ["L20"]}
                                                ).order.lease_id or "")
            elif op == "end" and made:
                lease_id = made[seconds % len(made)]
                if leases.get_lease(demo, tenant, lease_id)[0].state is LeaseState.ACTIVE:
                    leases.end_lease(demo, tenant, lease_id)
        except CapacityError:
            pass
        clock.step = 0
        clock.advance(seconds if op == "wait" else seconds % 5)
    now = clock.now()
    for lease_id in made:
        lease, _ = leases.get_lease(demo, tenant, lease_id)
        assert lease.allocations  # every granted lease keeps its record
        assert billed_seconds(demo, lease_id, now) == granted_seconds(lease, now)
    for lease_id in made:  # leave the fleet free for the next example
        if leases.get_lease(demo, tenant, lease_id)[0].state is LeaseState.ACTIVE:
            leases.end_lease(demo, tenant, lease_id)


def _held(p: Platform, who: Principal, lease_id: str) -> tuple[Decimal, int, list[str]]:
    lease, events = leases.get_lease(p, who, lease_id)
    wire = LeaseResponse(**lease_out(lease, events))
    return wire.devices, len(wire.allocations), device_names(wire).split(", ")


def test_a_resumed_lease_counts_the_devices_it_holds_once(demo: Platform, operator: Principal, tenant: Principal,
                                                          clock: TickingClock) -> None:
    wallets.set_policy(demo, operator, "acme", Decimal(4), Decimal(2))
    wallets.top_up(demo, operator, "acme", Decimal("30.00"))
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["L20"]}).order.lease_id
    assert lease_id
    clock.advance(hours=1)
    assert wallets.enforce_runway(demo)[0]["action"] == "suspend"
    clock.advance(hours=3)
    wallets.top_up(demo, operator, "acme", Decimal("100.00"))  # resumed on the same devices
    devices, rows, names = _held(demo, tenant, lease_id)
    assert (devices, rows, len(names)) == (4, 8, 4)  # 4 held; the 4 given up at the suspension are history
    assert wallets.show_wallet(demo, tenant)["burn_per_hour"] == Decimal("10.40")  # 4 x 2.60, not 8 x
    resumed = leases.get_lease(demo, tenant, lease_id)[0]
    clock.advance(hours=1)
    assert billed_seconds(demo, lease_id, clock.now()) == granted_seconds(resumed, clock.now()) == 4 * 2 * 3600


def test_a_replaced_lease_counts_the_devices_it_holds_once(demo: Platform, tenant: Principal,
                                                           clock: TickingClock) -> None:
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["A800"]}).order.lease_id
    assert lease_id
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    clock.advance(600)
    demo.driver.fail_node(node, "GPU fell off the bus (Xid 79)")  # type: ignore[union-attr]
    clock.step = 3  # the re-placement's grant comes later than the health check began
    assert health.check_health(demo).replaced == [lease_id]
    clock.step = 0
    lease, events = leases.get_lease(demo, tenant, lease_id)
    new = [a for a in lease.allocations if a.end is None]
    assert events[-1]["to"] == "active" and {a.start for a in new} == {events[-1]["at"]}
    devices, rows, names = _held(demo, tenant, lease_id)
    assert (devices, rows, len(names)) == (4, 8, 4) and not any(n.startswith(node + "/") for n in names)
    clock.advance(100)
    assert billed_seconds(demo, lease_id, clock.now()) == granted_seconds(lease, clock.now())

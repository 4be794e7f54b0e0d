"""An unenforced slice never shares a device with enforced ones, nor one mechanism's slices with another's
(docs/slices.md "Mixing mechanisms on one device"), on real SQLite and PostgreSQL: placement keeps them
apart and says so when nothing else fits, and the database refuses what placement would not do."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from suanli.domain.accounts import Principal
from suanli.domain.slice_mixing import may_share, mechanism_class
from suanli.domain.slicing import Mechanism
from suanli.drivers.base import Capabilities, Feature
from suanli.errors import CapacityError
from suanli.service import accounts, defrag, fleet, health, leases, orders, placement, slicing
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.store.capacity import OVER_CAPACITY
from suanli.store.leases import StaleClaim
from suanli.store.slice_mixing import MIXED
from suanli.store.slices import record_grant
from suanli.store.slices_tables import SliceGrantRow
from suanli.store.tables import AllocationRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant
from suanli.testing.fake_driver import DEFAULT, DriverCall, FakeDriver


@dataclass
class Backend:
    """A backend whose declared slice mechanisms change between orders, as the agent engine's do when an
    agent without MPS joins (the intersection drops to none) or the server restarts with another setting."""

    mechanisms: frozenset[Mechanism]

    def __call__(self, call: DriverCall) -> Any:
        if call.method == "capabilities":
            return Capabilities(driver="fake", supported=frozenset(Feature), slice_mechanisms=self.mechanisms)
        return DEFAULT


def small_fleet(devices: int, nodes: int = 1) -> dict[str, Any]:
    return {"sites": [{"name": "s1", "region": "r1", "tier": "cloud", "pue": "1.20", "power_price_kwh": "0.50"}],
            "suppliers": [{"name": "sup", "display_name": "Supplier"}],
            "nodes": [{"name": f"n{i}", "site": "s1", "supplier": "sup", "cpu_cores": 64, "memory_gib": 512,
                       "nic_gbps": 100, "disk_gb": 1000, "fabric": f"s1/n{i}",
                       "devices": {"model": "L20", "count": devices}} for i in range(1, nodes + 1)],
            "prices": [{"model": "L20", "unit": "device_hour", "amount": "2.60"}]}


@dataclass
class World:
    p: Platform
    backend: Backend
    tenant: Principal
    other: Principal
    operator: Principal


def world(db_url: str | None, tmp_path: Path, clock: FakeClock, devices: int, nodes: int = 1) -> Iterator[World]:
    backend = Backend(frozenset({Mechanism.MPS}))
    p = Platform(Settings(data_dir=tmp_path / "mix", database_url=db_url), clock=clock,
                 driver=FakeDriver(backend, clock=clock))
    token = accounts.bootstrap_operator(p)
    assert token is not None
    op = accounts.authenticate(p, token)
    fleet.import_fleet(p, op, small_fleet(devices, nodes))
    yield World(p, backend, make_tenant(p, op, "acme"), make_tenant(p, op, "bolt"), op)
    p.close()


@pytest.fixture
def one(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    yield from world(db_url, tmp_path, clock, 1)


@pytest.fixture
def two(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    yield from world(db_url, tmp_path, clock, 2)


@pytest.fixture
def pair(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """Two nodes of one L20 each."""
    yield from world(db_url, tmp_path, clock, 1, nodes=2)


SLICE = {"form": "slice", "share_pct": 30, "memory_mib": 4096, "models": ["L20"]}


def device_of(p: Platform, who: Principal, lease_id: str) -> int:
    (a,) = leases.get_lease(p, who, lease_id)[0].allocations
    return a.device_id


def test_an_unenforced_slice_is_not_placed_beside_an_enforced_one(one: World) -> None:
    """The attack: an enforced MPS slice, then (the backend now enforcing nothing) an allow_unenforced slice
    ordered on a one-device fleet: before this rule both landed on the same device, the unenforced job held to
    no memory limit beside a neighbour whose limit MPS holds."""
    p = one.p
    enforced = orders.create_order(p, one.tenant, dict(SLICE))
    assert enforced.order.status == "fulfilled" and slicing.enforcement_of(p, enforced.order.lease_id) == "mps"
    one.backend.mechanisms = frozenset()
    with pytest.raises(CapacityError) as e:
        orders.create_order(p, one.other, {**SLICE, "allow_unenforced": True})
    assert "no_capacity: 1 L20 device(s) with room" in str(e.value) and "among the other devices: " in str(e.value)
    assert ("1 L20 device(s) with room hold slices enforced by mps; a slice enforced by none may not share a "
            "device with them") in str(e.value)
    (rejected,) = orders.list_orders(p, one.other, 0, 10)
    assert rejected.status == "rejected" and "may not share a device" in (rejected.reason or "")


def test_each_mechanism_keeps_to_its_own_devices(two: World) -> None:
    p = two.p
    first = orders.create_order(p, two.tenant, dict(SLICE))
    assert first.order.lease_id is not None
    two.backend.mechanisms = frozenset()
    loose = orders.create_order(p, two.other, {**SLICE, "allow_unenforced": True})
    assert loose.order.status == "fulfilled" and loose.order.lease_id is not None
    assert slicing.enforcement_of(p, loose.order.lease_id) == "none"
    assert device_of(p, two.other, loose.order.lease_id) != device_of(p, two.tenant, first.order.lease_id)
    # the unenforced device takes more unenforced slices; the MPS one more MPS slices
    more_loose = orders.create_order(p, two.other, {**SLICE, "allow_unenforced": True})
    assert more_loose.order.lease_id is not None
    assert device_of(p, two.other, more_loose.order.lease_id) == device_of(p, two.other, loose.order.lease_id)
    two.backend.mechanisms = frozenset({Mechanism.MPS})
    more_mps = orders.create_order(p, two.tenant, dict(SLICE))
    assert more_mps.order.lease_id is not None
    assert device_of(p, two.tenant, more_mps.order.lease_id) == device_of(p, two.tenant, first.order.lease_id)
    # a HAMi slice (another mechanism than the MPS neighbours) finds no device either
    two.backend.mechanisms = frozenset({Mechanism.HAMI})
    with pytest.raises(CapacityError, match="enforced by mps, none; a slice enforced by hami may not share"):
        orders.create_order(p, two.tenant, dict(SLICE))


def test_an_ended_slice_frees_its_device_for_another_mechanism(one: World, clock: FakeClock) -> None:
    p = one.p
    first = orders.create_order(p, one.tenant, dict(SLICE))
    assert first.order.lease_id is not None
    clock.advance(minutes=5)
    leases.end_lease(p, one.tenant, first.order.lease_id)
    clock.advance(minutes=1)
    one.backend.mechanisms = frozenset()
    res = orders.create_order(p, one.other, {**SLICE, "allow_unenforced": True})
    assert res.order.status == "fulfilled", res.order.reason


def test_whole_devices_are_unaffected(two: World) -> None:
    p = two.p
    orders.create_order(p, two.tenant, dict(SLICE))
    two.backend.mechanisms = frozenset()
    whole = orders.create_order(p, two.other, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert whole.order.status == "fulfilled", whole.order.reason


def test_the_database_refuses_a_slice_of_another_mechanism_on_the_device(one: World) -> None:
    """What placement would not do, written straight to the tables: the grant of an unenforced slice whose
    allocation overlaps an MPS slice on the device (trigger on slice_grants), and an allocation of an
    unenforced slice moved onto that device (trigger on allocations)."""
    p = one.p
    first = orders.create_order(p, one.tenant, dict(SLICE))
    assert first.order.lease_id is not None
    dev = device_of(p, one.tenant, first.order.lease_id)
    # a second MPS slice (same mechanism) beside it: fine; its grant then relabelled `none`: refused
    second = orders.create_order(p, one.other, dict(SLICE))
    assert second.order.lease_id is not None and device_of(p, one.other, second.order.lease_id) == dev
    with pytest.raises(IntegrityError, match=MIXED), p.tx() as s:
        s.execute(update(SliceGrantRow).where(SliceGrantRow.lease_id == second.order.lease_id)
                  .values(enforcement="none"))
    with p.tx() as s:  # hami and mps on one device: refused too (each limit held by a mechanism blind to the other)
        s.execute(SliceGrantRow.__table__.delete().where(SliceGrantRow.lease_id == second.order.lease_id))
    with pytest.raises(IntegrityError, match=OVER_CAPACITY), p.tx() as s:
        s.execute(insert(SliceGrantRow.__table__),
                  dict(lease_id=second.order.lease_id, enforcement="hami", share_pct=30, memory_mib=4096))
    with pytest.raises(StaleClaim), p.tx() as s:  # through the store: a capacity race, placed again on fresh state
        record_grant(s, second.order.lease_id, "none", 30, 4096)
    with p.tx() as s:
        record_grant(s, second.order.lease_id, "mps", 30, 4096)


def test_the_database_refuses_an_allocation_beside_another_mechanism(two: World) -> None:
    p = two.p
    first = orders.create_order(p, two.tenant, dict(SLICE))
    assert first.order.lease_id is not None
    two.backend.mechanisms = frozenset()
    loose = orders.create_order(p, two.other, {**SLICE, "allow_unenforced": True})
    assert loose.order.lease_id is not None
    mps_dev = device_of(p, two.tenant, first.order.lease_id)
    with pytest.raises(IntegrityError, match=MIXED), p.tx() as s:  # moved onto the MPS slice's device
        s.execute(update(AllocationRow).where(AllocationRow.lease_id == loose.order.lease_id)
                  .values(device_id=mps_dev))
    with p.tx() as s:
        (alloc,) = s.execute(select(AllocationRow.start_at, AllocationRow.milli)
                             .where(AllocationRow.lease_id == loose.order.lease_id)).all()
    with pytest.raises(IntegrityError, match=MIXED), p.tx() as s:  # a new allocation there (a re-placement)
        s.execute(insert(AllocationRow.__table__),
                  dict(lease_id=loose.order.lease_id, device_id=mps_dev, milli=alloc.milli, memory_mib=4096,
                       start_at=alloc.start_at + timedelta(minutes=1), end_at=None))


def test_mechanism_classes() -> None:
    assert [mechanism_class(x) for x in ("mig:1g.10gb", "mps", "hami", "vnpu:vir05_1c_16g", "none")] == [
        "mig", "mps", "hami", "vnpu", "none"]
    assert may_share("mig:1g.10gb", "mig:3g.40gb") and may_share("none", "none") and may_share("mps", "mps")
    assert not may_share("mps", "none") and not may_share("mps", "hami") and not may_share("mig:1g.10gb", "mps")


def test_a_slice_back_from_a_failure_does_not_return_beside_another_mechanism(pair: World, clock: FakeClock) -> None:
    """An MPS slice interrupted by its node's failure (no room elsewhere: it waits); meanwhile an unenforced
    slice takes its former device. It does not come back there (neither on the same devices nor by placement)
    until a device of its own frees up."""
    p = pair.p
    first = orders.create_order(p, pair.tenant, dict(SLICE))
    assert first.order.lease_id is not None
    home = leases.get_lease(p, pair.tenant, first.order.lease_id)[0].allocations[0].node
    away = "n2" if home == "n1" else "n1"
    whole = orders.create_order(p, pair.other, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert whole.order.lease_id is not None
    assert leases.get_lease(p, pair.other, whole.order.lease_id)[0].allocations[0].node == away
    fleet.set_node_state(p, pair.operator, home, "down", "PSU failure")
    report = health.check_health(p)
    assert first.order.lease_id in report.interrupted and first.order.lease_id in report.still_interrupted
    fleet.set_node_state(p, pair.operator, home, "available", "")
    clock.advance(minutes=1)
    pair.backend.mechanisms = frozenset()
    loose = orders.create_order(p, pair.other, {**SLICE, "allow_unenforced": True})
    assert loose.order.lease_id is not None
    assert leases.get_lease(p, pair.other, loose.order.lease_id)[0].allocations[0].node == home
    pair.backend.mechanisms = frozenset({Mechanism.MPS})
    clock.advance(minutes=1)
    (gone,) = leases.get_lease(p, pair.tenant, first.order.lease_id)[0].allocations
    with p.read() as s:  # its former device has room (300 + 300) but holds an unenforced slice now
        snap = placement.snapshot(p, s, clock.now(), None, exclude_lease=first.order.lease_id)
        assert not snap.mixing.fits_again(s, first.order.lease_id, [gone.device_id])
        assert snap.mixing.classes(gone.device_id) == {"none"}
    again = health.replace_interrupted(p)
    assert first.order.lease_id in again.still_interrupted
    leases.end_lease(p, pair.other, whole.order.lease_id)
    clock.advance(minutes=1)
    again = health.replace_interrupted(p)
    assert first.order.lease_id in again.replaced
    back = [a for a in leases.get_lease(p, pair.tenant, first.order.lease_id)[0].allocations if a.end is None]
    assert [a.node for a in back] == [away]


@pytest.mark.second_connection  # the test's own connection watches pg_locks while a grant holds the row
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite runs one writer at a time: no race
def test_two_slices_racing_for_one_device_queue_and_the_second_is_refused(two: World, db_url: str | None) -> None:
    """PostgreSQL: two transactions put slices of different mechanisms on one device at once; the second waits
    for the first's device lock, then sees it and is refused (SQLite runs one writer at a time)."""
    p = two.p
    a = orders.create_order(p, two.tenant, dict(SLICE)).order.lease_id
    two.backend.mechanisms = frozenset()
    b = orders.create_order(p, two.other, {**SLICE, "allow_unenforced": True}).order.lease_id
    assert a is not None and b is not None
    target = device_of(p, two.tenant, a)
    later = p.clock.now() + timedelta(hours=1)  # both come back on the MPS slice's device an hour on
    row = dict(device_id=target, milli=300, memory_mib=4096, start_at=later, end_at=later + timedelta(hours=1))
    results: list[str] = []

    def second() -> None:
        try:
            with p.tx() as s:
                s.execute(insert(AllocationRow.__table__), dict(row, lease_id=b))
            results.append("written")
        except IntegrityError as e:
            results.append("refused" if MIXED in str(e.orig) else str(e.orig))

    with p.tx() as s:
        s.execute(insert(AllocationRow.__table__), dict(row, lease_id=a))
        th = threading.Thread(target=second)
        th.start()
        deadline = time.monotonic() + 60
        with p.engine.connect() as c:  # until the second is blocked on the device row this one holds
            while c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one() < 1:
                assert time.monotonic() < deadline, "the second writer did not wait for the device"
                time.sleep(0.02)  # polling the database for the blocked backend, bounded
                c.rollback()
    th.join(timeout=60)
    assert results == ["refused"]


def test_a_slice_re_placed_under_another_mechanism_takes_it(pair: World, clock: FakeClock) -> None:
    """The backend changed (MPS -> HAMi) while an MPS slice waited to be re-placed: it comes back held by HAMi
    (its grant says so, its job gets HAMi's limits) and may then sit beside a HAMi slice; before, its grant stayed
    `mps` and the database refused it there at every pass."""
    p = pair.p
    first = orders.create_order(p, pair.tenant, dict(SLICE))
    assert first.order.lease_id is not None
    home = leases.get_lease(p, pair.tenant, first.order.lease_id)[0].allocations[0].node
    away = "n2" if home == "n1" else "n1"
    whole = orders.create_order(p, pair.other, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert whole.order.lease_id is not None
    fleet.set_node_state(p, pair.operator, home, "down", "PSU failure")
    assert first.order.lease_id in health.check_health(p).still_interrupted
    clock.advance(minutes=1)
    leases.end_lease(p, pair.other, whole.order.lease_id)
    pair.backend.mechanisms = frozenset({Mechanism.HAMI})
    hami = orders.create_order(p, pair.other, dict(SLICE))
    assert hami.order.lease_id is not None and slicing.enforcement_of(p, hami.order.lease_id) == "hami"
    clock.advance(minutes=1)
    again = health.replace_interrupted(p)
    assert first.order.lease_id in again.replaced
    back = [a for a in leases.get_lease(p, pair.tenant, first.order.lease_id)[0].allocations if a.end is None]
    assert [a.node for a in back] == [away]
    assert slicing.enforcement_of(p, first.order.lease_id) == "hami"


@pytest.fixture
def quad(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """Two nodes of two L20 each."""
    yield from world(db_url, tmp_path, clock, 2, nodes=2)


def test_a_defragmentation_move_beside_another_mechanism_fails_saying_why(quad: World, clock: FakeClock) -> None:
    """The defragmentation planner does not know mechanisms: it plans to move a migratable MPS slice next to an
    unenforced one (the only room left) to free a node; at the move the lease stays where it is and the move's
    reason says why (the database would refuse the allocation anyway)."""
    p, op = quad.p, quad.operator

    def on(node: str, who: Principal, raw: dict[str, Any]) -> str:
        other = "n2" if node == "n1" else "n1"
        fleet.set_node_state(p, op, other, "down", "kept free for the test")
        res = orders.create_order(p, who, raw)
        fleet.set_node_state(p, op, other, "available", "")
        assert res.order.lease_id is not None
        return res.order.lease_id

    mps = on("n1", quad.tenant, {**SLICE, "migratable": True})
    quad.backend.mechanisms = frozenset()
    on("n2", quad.other, {**SLICE, "allow_unenforced": True})
    on("n2", quad.other, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    plan = defrag.propose(p, op, [{"form": "gpu", "quantity": 2, "models": ["L20"]}])
    assert plan is not None and [m.lease_id for m in plan.moves] == [mps]
    plan = defrag.approve(p, op, plan.id)
    clock.advance(seconds=plan.notice_s)
    assert defrag.tick(p) == 0
    (move,) = defrag.plan_doc(p, defrag.get_plan(p, op, plan.id))["moves"]
    assert move["state"] == "failed"
    assert "hold slices enforced by none; a slice enforced by mps may not share a device" in move["reason"]
    assert [a.node for a in leases.get_lease(p, quad.tenant, mps)[0].allocations if a.end is None] == ["n1"]

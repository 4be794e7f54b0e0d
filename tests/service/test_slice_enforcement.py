"""Enforced slices through the order path (docs/slices.md), on real SQLite and PostgreSQL: MIG slices are
rounded up to a profile and laid out on profile boundaries (the database refuses overlaps), vNPU templates on
Ascend, MPS elsewhere, and a slice nothing can enforce is refused before it is granted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from suanli.domain.accounts import Principal
from suanli.domain.demo import demo_fleet
from suanli.errors import ValidationError
from suanli.service import accounts, fleet, health, leases, orders, slicing
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.store import slices as slice_store
from suanli.store.capacity import OVER_CAPACITY
from suanli.store.leases import StaleClaim
from suanli.store.slices_tables import MigInstanceRow
from suanli.store.tables import AllocationRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant


def lease_of(p: Platform, who: Principal, **raw: object) -> str:
    res = orders.create_order(p, who, raw)
    assert res.order.status == "fulfilled", res.order.reason
    assert res.order.lease_id is not None
    return res.order.lease_id


def test_a_mig_slice_is_rounded_up_to_its_profile_and_says_so(demo: Platform, tenant: Principal) -> None:
    lease_id = lease_of(demo, tenant, form="slice", share_pct=10, memory_mib=1024, models=["A100-80GB"])
    lease, _ = leases.get_lease(demo, tenant, lease_id)
    (a,) = lease.allocations
    assert (a.milli, a.memory_mib) == (125, 10240)
    assert "enforced by mig:1g.10gb" in lease.placement
    assert slicing.enforcement_of(demo, lease_id) == "mig:1g.10gb"
    with demo.read() as s:
        limits = slicing.limits_for(s, lease)
        inst = slice_store.instances_of(s, lease_id)
    assert limits is not None and limits.enforcement == "mig:1g.10gb" and limits.mig_start == 6
    assert inst[a.device_id].profile == "1g.10gb" and inst[a.device_id].start_slot == 6


def test_many_mig_slices_never_overlap_on_a_device(demo: Platform, tenant: Principal) -> None:
    sizes = [(10, 1024), (40, 1024), (20, 20000), (10, 15000), (50, 1024)] * 8
    for share, mem in sizes:
        lease_of(demo, tenant, form="slice", share_pct=share, memory_mib=mem, models=["A100-80GB"])
    with demo.read() as s:
        rows = s.execute(select(MigInstanceRow.device_id, MigInstanceRow.start_slot, MigInstanceRow.span,
                                AllocationRow.milli).join(AllocationRow,
                                                          AllocationRow.id == MigInstanceRow.allocation_id)).all()
    assert len(rows) == len(sizes)
    per_device: dict[int, list[int]] = {}
    for device, start, span, milli in rows:
        assert milli == 125 * span
        per_device.setdefault(device, []).extend(range(start, start + span))
    for cells in per_device.values():
        assert len(cells) == len(set(cells)) and max(cells) < 8


def test_the_database_refuses_an_overlapping_instance(demo: Platform, tenant: Principal) -> None:
    first = lease_of(demo, tenant, form="slice", share_pct=40, memory_mib=1024, models=["A100-80GB"])
    other = lease_of(demo, tenant, form="slice", share_pct=10, memory_mib=1024, models=["A100-80GB"])
    with demo.read() as s:
        ((dev, inst),) = slice_store.instances_of(s, first).items()
        ((_, mine),) = slice_store.instances_of(s, other).items()
    with pytest.raises(IntegrityError, match=OVER_CAPACITY), demo.tx() as s:
        # the other lease's instance moved onto the first one's memory slices
        s.execute(delete(MigInstanceRow).where(MigInstanceRow.allocation_id == mine.allocation_id))
        s.add(MigInstanceRow(allocation_id=mine.allocation_id, device_id=dev, profile="1g.10gb",
                             start_slot=inst.start_slot, span=1))
        s.flush()
    with demo.tx() as s:  # beside it, on a free slice, is fine
        s.execute(delete(MigInstanceRow).where(MigInstanceRow.allocation_id == mine.allocation_id))
        free = next(x for x in range(8) if not inst.start_slot <= x < inst.start_slot + inst.span)
        s.add(MigInstanceRow(allocation_id=mine.allocation_id, device_id=dev, profile="1g.10gb", start_slot=free,
                             span=1))
    with pytest.raises(StaleClaim), demo.tx() as s:  # through the store: a capacity race, retried on fresh state
        slice_store.record_instances(s, first, [(dev, "1g.10gb", free, 1)])


def test_ascend_slices_take_a_vnpu_template(demo: Platform, tenant: Principal) -> None:
    lease_id = lease_of(demo, tenant, form="slice", share_pct=20, memory_mib=20000, models=["Ascend-910B"])
    (a,) = leases.get_lease(demo, tenant, lease_id)[0].allocations
    assert (a.milli, a.memory_mib) == (500, 32768)
    assert slicing.enforcement_of(demo, lease_id) == "vnpu:vir10_3c_32g"
    with pytest.raises(ValidationError, match="vir05_1c_16g") as e:
        orders.create_order(demo, tenant, {"form": "slice", "share_pct": 60, "memory_mib": 1024,
                                           "models": ["Ascend-910B"]})
    assert e.value.details["field"] == "share_pct"


def test_other_nvidia_slices_are_held_by_mps(demo: Platform, tenant: Principal) -> None:
    lease_id = lease_of(demo, tenant, form="slice", share_pct=30, memory_mib=4096, models=["L20"])
    assert slicing.enforcement_of(demo, lease_id) == "mps"
    (a,) = leases.get_lease(demo, tenant, lease_id)[0].allocations
    assert (a.milli, a.memory_mib) == (300, 4096)


@pytest.fixture
def bare(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[Platform, Principal]]:
    """The demo fleet on a backend that enforces nothing (SUANLI_SLICE_MECHANISMS empty)."""
    p = Platform(Settings(data_dir=tmp_path / "bare", database_url=db_url, slice_mechanisms=""), clock=clock)
    token = accounts.bootstrap_operator(p)
    assert token is not None
    op = accounts.authenticate(p, token)
    fleet.import_fleet(p, op, demo_fleet())
    yield p, make_tenant(p, op, "acme")
    p.close()


def test_a_slice_nothing_enforces_is_refused_before_it_is_granted(bare: tuple[Platform, Principal]) -> None:
    p, tenant = bare
    with pytest.raises(ValidationError, match="allow_unenforced") as e:
        orders.create_order(p, tenant, {"form": "slice", "share_pct": 30, "memory_mib": 4096, "models": ["L20"]})
    assert e.value.details["field"] == "models"
    assert orders.list_orders(p, tenant, 0, 10) == []  # nothing written
    lease_id = lease_of(p, tenant, form="slice", share_pct=30, memory_mib=4096, models=["L20"], allow_unenforced=True)
    assert slicing.enforcement_of(p, lease_id) == "none"
    assert "enforced by none" in leases.get_lease(p, tenant, lease_id)[0].placement


def test_allow_unenforced_is_for_slices_and_a_boolean(demo: Platform, tenant: Principal) -> None:
    for raw, what in (({"form": "gpu", "quantity": 1, "allow_unenforced": True}, "for a slice only"),
                      ({"form": "slice", "share_pct": 10, "memory_mib": 1024, "allow_unenforced": "yes"},
                       "true or false")):
        with pytest.raises(ValidationError, match=what):
            orders.create_order(demo, tenant, raw)


def test_profiles_list_what_this_backend_enforces(demo: Platform, tenant: Principal) -> None:
    rows = {r["model"]: r for r in slicing.profiles(demo, tenant)}
    assert rows["A100-80GB"]["enforcement"] == "mig" and rows["A100-80GB"]["sizes"][0]["name"] == "1g.10gb"
    assert rows["L20"]["enforcement"] == "mps" and rows["Ascend-910B"]["enforcement"] == "vnpu"
    assert rows["MLU370-X8"]["enforcement"] == "none"
    assert [r["model"] for r in slicing.profiles(demo, tenant, "H20")] == ["H20"]



def test_a_mig_slice_re_placed_after_a_failure_gets_an_instance_again(demo: Platform, tenant: Principal,
                                                                      operator: Principal) -> None:
    lease_id = lease_of(demo, tenant, form="slice", share_pct=40, memory_mib=1024, models=["A100-80GB"])
    (before,) = leases.get_lease(demo, tenant, lease_id)[0].allocations
    fleet.set_node_state(demo, operator, before.node, "down", "PSU failure")
    report = health.check_health(demo)
    assert lease_id in report.interrupted and lease_id in report.replaced
    lease = leases.get_lease(demo, tenant, lease_id)[0]
    (now,) = [a for a in lease.allocations if a.end is None]
    assert now.node != before.node and now.milli == 500
    with demo.read() as s:
        inst = slice_store.instances_of(s, lease_id)
        limits = slicing.limits_for(s, lease)
    assert inst[now.device_id].profile == "3g.40gb" and limits is not None
    assert limits.mig_start == inst[now.device_id].start_slot

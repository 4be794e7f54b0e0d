"""Custom shapes through the service layer (SQLite and PostgreSQL): a 4-core 16 GiB instance with
one L20, more than the share, a CPU-only instance, a shape no node holds (422), the node filled
(refused), and the holds recorded and released with the lease (docs/orders.md "Custom shapes")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from suanli.domain.accounts import Principal
from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.errors import CapacityError, ValidationError
from suanli.service import engine, health, jobs, leases, orders, plans
from suanli.service.platform import Platform
from suanli.store import shapes as shapes_store
from suanli.store.shapes_tables import NodeAllocationRow
from suanli.store.tables import NodeRow
from suanli.testing.clock import FakeClock


def order(p: Platform, who: Principal, /, **raw: object) -> str:
    res = orders.create_order(p, who, raw)
    assert res.order.status == "fulfilled", res.order.reason
    assert res.order.lease_id is not None
    return res.order.lease_id


def holds(p: Platform, lease_id: str) -> list[tuple[str, int, int, int, int, int, int]]:
    with p.tx() as s:
        q = (select(NodeRow.name, NodeAllocationRow.cpu_milli, NodeAllocationRow.ram_mib, NodeAllocationRow.nic_mbps,
                    NodeAllocationRow.disk_gib, NodeAllocationRow.extra_cpu_milli, NodeAllocationRow.extra_ram_mib)
             .join(NodeRow, NodeRow.id == NodeAllocationRow.node_id)
             .where(NodeAllocationRow.lease_id == lease_id, NodeAllocationRow.end_at.is_(None)))
        return [tuple(r) for r in s.execute(q)]  # type: ignore[misc]


def test_a_4_core_16_gib_instance_with_one_l20_holds_its_share(demo: Platform, tenant: Principal) -> None:
    lid = order(demo, tenant, form="gpu", quantity=1, models=["L20"], cpu_cores=4, ram_gib=16)
    lease, _ = leases.get_lease(demo, tenant, lid)
    assert [a.model for a in lease.allocations] == ["L20"]
    # an L20 node: 64 cores, 512 GiB, 100 Gbps, 7680 GB over 8 devices: the share is more than asked
    assert holds(demo, lid) == [(lease.allocations[0].node, 8000, 65536, 12500, 894, 0, 0)]


def test_more_than_the_share_is_held_and_the_excess_is_extra(demo: Platform, tenant: Principal) -> None:
    lid = order(demo, tenant, form="gpu", models=["L20"], cpu_cores=16, ram_gib=128)
    ((_node, cpu, ram, nic, disk, xcpu, xram),) = holds(demo, lid)
    assert (cpu, ram, nic, disk, xcpu, xram) == (16000, 131072, 12500, 894, 8000, 65536)


def test_a_cpu_only_instance(demo: Platform, tenant: Principal) -> None:
    lid = order(demo, tenant, form="cpu", cpu_cores=8, ram_gib=32, sites=["sz-edge-1"])
    lease, _ = leases.get_lease(demo, tenant, lid)
    assert lease.allocations == () and lease.form.value == "cpu"
    ((node, cpu, ram, _nic, _disk, xcpu, xram),) = holds(demo, lid)
    assert node.startswith(("sz-l20", "sz-4090")) and (cpu, ram, xcpu, xram) == (8000, 32768, 8000, 32768)
    leases.end_lease(demo, tenant, lid)
    assert holds(demo, lid) == []  # ended: the node has them back


def test_a_shape_no_node_holds_is_a_422_naming_the_largest(demo: Platform, tenant: Principal) -> None:
    with pytest.raises(ValidationError, match="the largest has 192 cores") as e:
        orders.create_order(demo, tenant, {"form": "cpu", "cpu_cores": 200, "ram_gib": 8})
    assert e.value.details["field"] == "cpu_cores"
    with pytest.raises(ValidationError, match="the largest has 512 GiB of RAM"):
        orders.create_order(demo, tenant, {"form": "gpu", "models": ["L20"], "ram_gib": 600})
    with pytest.raises(ValidationError, match="the largest has 100 Gbps"):
        orders.create_order(demo, tenant, {"form": "gpu", "models": ["RTX-4090"], "nic_gbps": 101})


def test_cores_taken_by_cpu_instances_are_not_sold_twice(demo: Platform, tenant: Principal) -> None:
    """The sz-edge-1 site has 5 nodes of 64 cores: five 60-core instances fill them; a sixth is
    refused (no capacity), and a GPU there can no longer get its share of cores."""
    for _ in range(5):
        order(demo, tenant, form="cpu", cpu_cores=60, ram_gib=8, sites=["sz-edge-1"])
    with pytest.raises(CapacityError, match="no node has 60 cores"):
        orders.create_order(demo, tenant, {"form": "cpu", "cpu_cores": 60, "ram_gib": 8, "sites": ["sz-edge-1"]})
    with pytest.raises(CapacityError, match="no_capacity"):  # an L20 or 4090 there needs 8 cores; 4 are left
        orders.create_order(demo, tenant, {"form": "gpu", "sites": ["sz-edge-1"]})
    ok = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 50, "memory_mib": 1024,
                                            "sites": ["sz-edge-1"]})
    assert ok.order.status == "fulfilled"  # half a device: 4 cores, which are free


def test_a_term_reservation_holds_the_host_share_and_hands_it_to_its_drawn_leases(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    """A term plan's reservation holds its nodes' share; a lease drawn on it holds nothing of its own
    until the plan ends, then holds its own share from that instant (no gap, never twice)."""
    now = clock.now()
    pl = plans.create_plan(demo, operator, {"tenant": "acme", "kind": "term", "term": "month", "term_model": "H800",
                                            "term_devices": 8, "paid": True, "effective_from": now.isoformat()})
    assert holds(demo, pl["reservation"])[0][1:5] == (128_000, 2048 * 1024, 3_200_000, 7152)
    drawn = order(demo, tenant, form="gpu", quantity=4, models=["H800"])
    assert holds(demo, drawn) == []  # the reservation's share covers it
    shaped = order(demo, tenant, form="gpu", quantity=4, models=["H800"], cpu_cores=80)
    ((_n, cpu, *_r),) = holds(demo, shaped)  # a shape is not drawn on the reservation: placed on the fleet
    assert cpu == 80_000
    clock.advance(hours=1)
    plans.end_plan(demo, operator, pl["id"])
    assert holds(demo, pl["reservation"]) == []
    ((_node, cpu, *_rest),) = holds(demo, drawn)  # from now on its own share
    assert cpu == 64_000
    with demo.tx() as s:
        (start,) = s.scalars(select(NodeAllocationRow.start_at).where(NodeAllocationRow.lease_id == drawn))
    assert start == clock.now()


def test_a_cpu_instance_on_a_failed_node_is_interrupted_and_placed_again(demo: Platform, tenant: Principal,
                                                                         clock: FakeClock) -> None:
    driver = demo.driver
    assert isinstance(driver, LocalDriver)
    lid = order(demo, tenant, form="cpu", cpu_cores=8, ram_gib=32, sites=["sz-edge-1"])
    ((node, *_held),) = holds(demo, lid)
    clock.advance(600)
    driver.fail_node(node, "PSU failed")
    clock.advance(5)
    report = health.check_health(demo)
    assert node in report.nodes_down and lid in report.interrupted and lid in report.replaced
    ((again, *_rest),) = holds(demo, lid)
    assert again != node
    lease, events = leases.get_lease(demo, tenant, lid)
    assert lease.state.value == "active" and [e["to"] for e in events][-2:] == ["interrupted", "active"]


def test_a_cpu_instance_runs_a_job_limited_to_its_cores_and_ram(demo: Platform, tenant: Principal) -> None:
    driver = demo.driver
    assert isinstance(driver, LocalDriver)
    lid = order(demo, tenant, form="cpu", cpu_cores=3, ram_gib=5)
    lease, _ = leases.get_lease(demo, tenant, lid)
    with demo.tx() as s:
        held = shapes_store.held_now(s, lid, demo.clock.now())
        grant = engine.grant_for(lease, "acme", demo.catalog(s), demo.clock.now(), host=held)
    ((node, _cpu, *_r),) = holds(demo, lid)
    (alloc,) = grant.allocations
    assert (alloc.node, alloc.device_indices, alloc.cpu_milli, alloc.host_memory_mib) == (node, (), 3000, 5120)
    job = jobs.submit_job(demo, tenant, lid, ["true"])
    assert driver.wait(job.driver_job_id, 30).state is JobState.COMPLETED

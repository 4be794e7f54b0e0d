"""The database itself refuses host holds (CPU, RAM, NIC, disk) beyond a node's capacity at any
instant, on SQLite and PostgreSQL. Rows are written directly, as a buggy or hostile writer would:
the rule must hold without placement (docs/orders.md "Custom shapes")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from suanli.domain.leases import LeaseState, ProductForm
from suanli.domain.shapes import Amounts, Hold
from suanli.service.platform import Platform
from suanli.store import leases as store
from suanli.store import shapes as shapes_store
from suanli.store.leases import StaleClaim
from suanli.store.shapes_tables import NodeAllocationRow
from suanli.store.tables import NodeRow

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
REFUSED = (IntegrityError, OperationalError)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def world(demo: Platform, tenant) -> Iterator[tuple[Platform, list[str], NodeRow]]:  # type: ignore[no-untyped-def]
    """Three bare leases of the tenant and an L20 node (64 cores, 512 GiB, 100 Gbps, 7680 GB)."""
    ids = []
    with demo.tx() as s:
        for i in range(3):
            oid, lid = f"ord_h{i}", f"ls_h{i}"
            store.insert_order(s, order_id=oid, tenant_id=tenant.account_id, key=f"h{i}", form=ProductForm.CPU,
                               spec={}, start=T0, end=None, status="fulfilled", reason="", now=T0)
            store.insert_lease(s, lease_id=lid, order_id=oid, tenant_id=tenant.account_id, form=ProductForm.CPU,
                               state=LeaseState.ACTIVE, start=T0, end=None, activated_at=T0, reason="",
                               commission_rate=Decimal(0), placement="", now=T0)
            ids.append(lid)
        node = s.scalar(select(NodeRow).where(NodeRow.name == "sz-l20-01"))
        assert node is not None
        s.expunge(node)
    yield demo, ids, node


def put(s, lease: str, node: int, cpu_cores: int = 0, ram_gib: int = 0, nic_gbps: int = 0, disk_gib: int = 0,  # type: ignore[no-untyped-def]
        start: datetime = T0, end: datetime | None = None) -> None:
    held = Amounts(cpu_cores * 1000, ram_gib * 1024, nic_gbps * 1000, disk_gib)
    shapes_store.add_holds(s, lease, [Hold(node, held, held)], start, end)
    s.flush()


def test_a_node_cannot_be_overfilled_through_the_store(world) -> None:  # type: ignore[no-untyped-def]
    p, (a, b, c), node = world
    with p.tx() as s:
        put(s, a, node.id, cpu_cores=40, ram_gib=300)
        put(s, b, node.id, cpu_cores=24, ram_gib=212)  # exactly full: 64 cores, 512 GiB
    for kw in ({"cpu_cores": 1}, {"ram_gib": 1}):
        with pytest.raises(REFUSED, match="over host capacity"), p.tx() as s:
            put(s, c, node.id, **kw)
    with p.tx() as s:  # NIC and disk are their own dimensions
        put(s, c, node.id, nic_gbps=100, disk_gib=7152)  # 7680 GB = 7152 GiB (floor)
    with pytest.raises(REFUSED, match="over host capacity"), p.tx() as s:
        put(s, c, node.id, disk_gib=1)


def test_the_rule_holds_at_every_instant_not_only_at_the_start(world) -> None:  # type: ignore[no-untyped-def]
    p, (a, b, _c), node = world
    with p.tx() as s:
        put(s, a, node.id, cpu_cores=40, start=at(60), end=at(120))
    with p.tx() as s:  # before it and after it: fine
        put(s, b, node.id, cpu_cores=64, start=T0, end=at(60))
        put(s, b, node.id, cpu_cores=64, start=at(120), end=None)
    with pytest.raises(REFUSED, match="over host capacity"), p.tx() as s:  # starts before, overlaps it
        put(s, _c, node.id, cpu_cores=30, start=at(30), end=at(61))


def test_shrinking_and_ending_are_never_refused_but_growing_is(world) -> None:  # type: ignore[no-untyped-def]
    p, (a, b, _c), node = world
    with p.tx() as s:
        put(s, a, node.id, cpu_cores=60, start=T0, end=at(60))
        put(s, b, node.id, cpu_cores=10, start=at(60), end=None)
    with p.tx() as s:
        store.end_open_allocations(s, a, at(30))  # ends its holds too
        ends = dict(s.execute(select(NodeAllocationRow.lease_id, NodeAllocationRow.end_at)).all())
    assert ends[a] == at(30) and ends[b] is None
    with pytest.raises(REFUSED, match="over host capacity"), p.tx() as s:
        s.execute(update(NodeAllocationRow).where(NodeAllocationRow.lease_id == b).values(cpu_milli=65_000))
    with pytest.raises(StaleClaim), p.tx() as s:  # extending a into b's time: 60 + 10 cores > 64
        store.move_allocation_end(s, a, at(30), at(90))
    with p.tx() as s:  # extending it up to b's start is fine
        store.move_allocation_end(s, a, at(30), at(60))


def test_an_ended_lease_frees_the_node(world) -> None:  # type: ignore[no-untyped-def]
    p, (a, b, _c), node = world
    with p.tx() as s:
        put(s, a, node.id, cpu_cores=64)
        store.end_open_allocations(s, a, at(10))
    with p.tx() as s:
        put(s, b, node.id, cpu_cores=64, start=at(10))
        assert shapes_store.held_by_node(s, at(20), None)[node.id].cpu_milli == 64_000

"""The placement loop (service.order_loop): batches, one transaction each, on SQLite and PostgreSQL.

The queue is held deterministically with ``PlacementLoop.pause()``/``resume()`` (no sleeps): orders
submitted while it is paused wait in the queue and are then taken together, as one batch.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.domain.capacity import max_load_per_device
from suanli.errors import BusyError, ConflictError, SuanliError, ValidationError
from suanli.service import accounts, leases, members, order_loop, orders, quotes
from suanli.service.platform import Platform
from suanli.store.tables import AllocationRow, LeaseRow, OrderRow
from suanli.testing.factories import make_tenant

SHAPES = [
    {"form": "gpu", "quantity": 3, "models": ["H800"]},
    {"form": "gpu", "quantity": 1, "models": ["H800"]},
    {"form": "slice", "share_pct": 30, "memory_mib": 4096, "models": ["L20"]},
    {"form": "slice", "share_pct": 45, "memory_mib": 4096, "models": ["L20"]},
    {"form": "server", "models": ["A800"]},
]
L20_10H = {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 10}  # 26.00 CNY in the demo book


def counts(p: Platform) -> tuple[int, int, int]:
    with p.tx() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (OrderRow, LeaseRow, AllocationRow))  # type: ignore[return-value]


def loads(p: Platform) -> dict[object, int]:
    """The highest load of every device over all recorded allocation windows (not drawn ones)."""
    with p.tx() as s:
        rows = s.execute(select(AllocationRow.device_id, AllocationRow.start_at, AllocationRow.end_at,
                                AllocationRow.milli).where(AllocationRow.drawn_from.is_(None))).all()
    return max_load_per_device((d, a, b, m) for d, a, b, m in rows)


@contextmanager
def paused(p: Platform) -> Iterator[order_loop.PlacementLoop]:
    loop = order_loop.loop_for(p)
    loop.pause()
    try:
        yield loop
    finally:
        loop.resume()


def result(p: Platform, t: order_loop.Ticket) -> order_loop.OrderResult | SuanliError:
    try:
        return t.future.result(timeout=60)
    except SuanliError as e:
        return e


def test_concurrent_orders_are_granted_or_refused_for_capacity_never_for_contention(
        demo: Platform, operator: Principal) -> None:
    tenants = [make_tenant(demo, operator, f"t{i}") for i in range(12)]
    orders.create_order(demo, tenants[0], {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # warm the shape
    start = threading.Barrier(len(tenants))

    def work(i: int) -> list[str]:
        start.wait()
        out = []
        for j in range(5):
            try:
                res = orders.create_order(demo, tenants[i], SHAPES[(i + j) % len(SHAPES)])
                out.append("granted" if res.order.status == "fulfilled" else res.order.status)
            except SuanliError as e:
                out.append(e.code)
        return out

    with ThreadPoolExecutor(len(tenants)) as pool:
        outcomes = Counter(x for chunk in pool.map(work, range(len(tenants))) for x in chunk)
    assert set(outcomes) <= {"granted", "no_capacity"}, outcomes
    assert outcomes["granted"] > 0 and outcomes["no_capacity"] > 0, outcomes  # demand exceeded the fleet
    assert max(loads(demo).values()) <= 1000


def test_one_batch_places_every_order_in_arrival_order_on_one_state(demo: Platform, tenant: Principal) -> None:
    """Orders queued together are placed in one batch; the later ones see the earlier grants."""
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024, "models": ["L20"]})
    with paused(demo):
        tickets = [orders.submit_order(demo, tenant, {"form": "slice", "share_pct": 45, "memory_mib": 1024,
                                                      "models": ["L20"]}) for _ in range(6)]
    results = [result(demo, t) for t in tickets]
    assert all(isinstance(r, order_loop.OrderResult) and r.order.status == "fulfilled" for r in results), results
    assert max(loads(demo).values()) <= 1000


def test_same_key_twice_in_one_batch_and_a_retry_after_return_the_first_result(demo: Platform,
                                                                                tenant: Principal) -> None:
    body = {"form": "gpu", "quantity": 1, "models": ["L20"]}
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # warm the shape
    before = counts(demo)
    with paused(demo):
        a = orders.submit_order(demo, tenant, body, "key-1")
        b = orders.submit_order(demo, tenant, body, "key-1")
        c = orders.submit_order(demo, tenant, body | {"quantity": 2}, "key-1")  # same key, another order
    first, second, other = result(demo, a), result(demo, b), result(demo, c)
    assert isinstance(first, order_loop.OrderResult) and not first.replayed
    assert isinstance(second, order_loop.OrderResult) and second.replayed
    assert second.order.id == first.order.id and second.order.lease_id == first.order.lease_id
    assert isinstance(other, ConflictError) and "was used for a different order" in other.message
    again = orders.create_order(demo, tenant, body, "key-1")  # a retry after the commit
    assert again.replayed and again.order.id == first.order.id
    assert counts(demo) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_a_refused_order_in_a_batch_does_not_undo_the_others(demo: Platform, tenant: Principal) -> None:
    """A member over its spend limit is refused inside the batch (its SAVEPOINT rolls back); the
    orders before and after it in the same transaction are granted and recorded."""
    _member, token = members.add_member(demo, tenant, "acme-dev", "developer", spend_limit="30")
    dev = accounts.authenticate(demo, token)
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # warm the shape
    before = counts(demo)
    with paused(demo):
        first = orders.submit_order(demo, dev, L20_10H)  # 26.00 of its 30
        over = orders.submit_order(demo, dev, L20_10H)  # another 26.00: over the limit
        other = orders.submit_order(demo, tenant, L20_10H)
    ok1, refused, ok2 = result(demo, first), result(demo, over), result(demo, other)
    assert isinstance(ok1, order_loop.OrderResult) and ok1.order.status == "fulfilled"
    assert isinstance(refused, ConflictError) and refused.code == "spend_limit", refused
    assert isinstance(ok2, order_loop.OrderResult) and ok2.order.status == "fulfilled"
    assert counts(demo) == (before[0] + 2, before[1] + 2, before[2] + 2)
    for r in (ok1, ok2):
        assert r.order.lease_id is not None
        lease, _ = leases.get_lease(demo, tenant, r.order.lease_id)
        assert lease.state.value == "active" and len(lease.allocations) == 1


def test_an_order_the_queue_does_not_reach_in_time_is_busy_and_writes_nothing(demo: Platform,
                                                                               tenant: Principal) -> None:
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # warm the shape
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=0)
    before = counts(demo)
    with paused(demo) as loop:
        with pytest.raises(BusyError) as e:
            orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1}, "busy-1")
        assert e.value.status == 503 and e.value.details["retry_after_s"] >= 1
        assert "nothing was written" in e.value.message and "Idempotency-Key" in e.value.message
        assert loop.queued() == 1  # withdrawn: the worker skips it
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=30)
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # the queue moves on
    assert counts(demo) == (before[0] + 1, before[1] + 1, before[2] + 1)  # nothing of the withdrawn order
    retried = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1}, "busy-1")  # the same key later
    assert not retried.replayed and retried.order.status == "fulfilled"


def test_an_order_that_can_never_fit_is_refused_at_once_not_queued(demo: Platform, tenant: Principal) -> None:
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # warm the shape
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=0)  # a queued order would be 503
    before = counts(demo)
    with paused(demo) as loop:
        for raw, said in (({"form": "gpu", "quantity": 99}, "no node can hold 99 devices"),
                          ({"form": "gpu", "quantity": 1, "models": ["Z9000"]}, "unknown model 'Z9000'"),
                          ({"form": "gpu", "quantity": 1, "sites": ["moon"]}, "unknown sites"),
                          ({"form": "slice", "share_pct": 10, "memory_mib": 10_000_000}, "MiB of memory"),
                          ({"form": "server", "quantity": 999}, "matching servers"),
                          ({"form": "cluster", "quantity": 999, "models": ["H800"]}, "no fabric domain")):
            with pytest.raises(ValidationError, match=said):
                orders.create_order(demo, tenant, raw)
        assert loop.queued() == 0
    assert counts(demo) == before


def test_a_node_added_after_the_last_batch_is_seen_by_admission(demo: Platform, tenant: Principal,
                                                                operator: Principal) -> None:
    """The cached fleet shape said "never fits"; admission looks again before refusing."""
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})  # the shape cached
    with pytest.raises(ValidationError):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 16})
    from suanli.service import fleet

    doc = {"nodes": [{"name": "sz-big-01", "site": "sz-edge-1", "supplier": "huadong-idc", "cpu_cores": 128,
                      "memory_gib": 1024, "nic_gbps": 100, "disk_gb": 7680, "fabric": "sz-edge-1/big",
                      "devices": {"model": "L20", "count": 16}}]}
    fleet.import_fleet(demo, operator, doc)
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 16})
    assert res.order.status == "fulfilled"


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_extend_and_orders_never_over_grant(demo: Platform, operator: Principal) -> None:
    """Lease extensions claim capacity outside the loop (their own snapshot and compare-and-set, under
    the placement lock): racing them against batches of orders for the same devices never puts a
    device over its capacity in any recorded window."""
    tenants = [make_tenant(demo, operator, f"x{i}") for i in range(6)]
    end = demo.clock.now() + timedelta(hours=2)
    held = [orders.create_order(demo, t, {"form": "gpu", "quantity": 1, "models": ["H800"], "end": end})
            for t in tenants]
    start = threading.Barrier(2 * len(tenants))

    def extend(i: int) -> str:
        start.wait()
        lease_id = held[i].order.lease_id
        assert lease_id is not None
        try:
            leases.extend_lease(demo, tenants[i], lease_id, hours=Decimal(4))
            return "extended"
        except SuanliError as e:
            return e.code

    def order(i: int) -> str:
        start.wait()
        try:
            return orders.create_order(demo, tenants[i], {"form": "gpu", "quantity": 8, "models": ["H800"],
                                                          "start": end, "end": end + timedelta(hours=3)}
                                       ).order.status
        except SuanliError as e:
            return e.code

    with ThreadPoolExecutor(2 * len(tenants)) as pool:
        futs = [pool.submit(extend, i) for i in range(len(tenants))] + [pool.submit(order, i)
                                                                          for i in range(len(tenants))]
        outcomes = Counter(f.result() for f in futs)
    assert set(outcomes) <= {"extended", "fulfilled", "no_capacity"}, outcomes
    assert max(loads(demo).values()) <= 1000


@pytest.mark.parametrize("raw", [{"form": "gpu", "quantity": 2, "models": ["A800"], "hours": 10},
                                 {"form": "slice", "share_pct": 25, "memory_mib": 8192, "models": ["L20"]},
                                 {"form": "flops", "p": "2"}])
def test_the_quote_built_at_the_grant_is_the_one_read_back(demo: Platform, tenant: Principal,
                                                           raw: dict[str, object]) -> None:
    res = orders.create_order(demo, tenant, raw)
    assert res.order.lease_id is not None and res.quote is not None
    assert orders.granted_quote(tenant, res) == quotes.lease_quote(demo, tenant, res.order.lease_id)
    assert res.order == orders.list_orders(demo, tenant)[0]  # the record built in memory, as stored


def test_orders_arriving_together_with_no_fleet_shape_read_it_once(demo: Platform, operator: Principal) -> None:
    """At a start no batch has read the fleet yet: every order arriving then needs its shape to be admitted. One
    of them reads it; the others wait for that read instead of each reading one (BATCHWRITE)."""
    who = [make_tenant(demo, operator, f"s{i}") for i in range(6)]
    loop = order_loop.loop_for(demo)
    assert loop.shape() is None and loop.shape_reads == 0
    start = threading.Barrier(len(who))

    def submit(t: Principal) -> order_loop.Ticket:
        start.wait()
        return orders.submit_order(demo, t, {"form": "slice", "share_pct": 10, "memory_mib": 1024})

    with paused(demo), ThreadPoolExecutor(len(who)) as pool:
        tickets = list(pool.map(submit, who))
    assert loop.shape_reads == 1
    assert all(isinstance(result(demo, t), order_loop.OrderResult) for t in tickets)

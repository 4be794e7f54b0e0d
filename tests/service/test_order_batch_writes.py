"""BATCHWRITE (issue 12 item 1, docs/performance.md "One write per table per batch"): the placement loop
writes the rows of a batch's plain grants together — one statement per table and one audit INSERT for the
whole batch — instead of each order's own statements. SQLite and PostgreSQL.

What must hold whatever the batching: each order's rows and audit rows name its own tenant; the database's
refusal of the batch's rows (a concurrent writer moved a device) places each order again, alone, so that
every order is still granted or refused on its own merits; nothing is granted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select, text

from suanli.domain.accounts import Principal
from suanli.domain.capacity import max_load_per_device
from suanli.errors import SuanliError
from suanli.service import audit_context, order_loop, orders
from suanli.service.platform import Platform
from suanli.store.audit import AuditEventRow
from suanli.store.tables import AllocationRow, LeaseRow, OrderRow
from suanli.testing.factories import make_tenant
from suanli.testing.statements import statements

SLICE = {"form": "slice", "share_pct": 10, "memory_mib": 1024, "models": ["L20"]}




@contextmanager
def paused(p: Platform) -> Iterator[None]:
    loop = order_loop.loop_for(p)
    loop.pause()
    try:
        yield
    finally:
        loop.resume()


def result(t: order_loop.Ticket) -> order_loop.OrderResult | SuanliError:
    try:
        return t.future.result(timeout=60)
    except SuanliError as e:
        return e


def max_load(p: Platform) -> int:
    with p.tx() as s:
        rows = s.execute(select(AllocationRow.device_id, AllocationRow.start_at, AllocationRow.end_at,
                                AllocationRow.milli).where(AllocationRow.drawn_from.is_(None))).all()
    return max(max_load_per_device((d, a, b, m) for d, a, b, m in rows).values())


def counts(p: Platform) -> tuple[int, int, int]:
    with p.tx() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (OrderRow, LeaseRow, AllocationRow))  # type: ignore[return-value]


def tenants(p: Platform, operator: Principal, n: int) -> list[Principal]:
    return [make_tenant(p, operator, f"bw{i}") for i in range(n)]


def submit(p: Platform, who: Principal, body: dict[str, Any], key: str | None = None) -> order_loop.Ticket:
    """As an HTTP request does: the order's context names its principal (what its audit rows record)."""
    with audit_context.acting(who, method="POST", path="/v1/orders"):
        return orders.submit_order(p, who, body, key)


def test_a_batch_of_orders_writes_each_table_in_one_statement(demo: Platform, operator: Principal) -> None:
    who = tenants(demo, operator, 6)
    orders.create_order(demo, who[0], SLICE)  # the loop's fleet shape
    with statements(demo.engine) as seen:
        with paused(demo):
            tickets = [submit(demo, t, SLICE) for t in who]
        results = [result(t) for t in tickets]
    assert all(isinstance(r, order_loop.OrderResult) and r.order.status == "fulfilled" for r in results), results
    text_ = "\n".join(seen)
    for table in ("orders", "leases", "lease_events", "allocations", "slice_grants", "audit_events"):
        assert sum(x.startswith(f"INSERT INTO {table} ") for x in seen) == 1, (table, text_)
    devices = {a for r in results if isinstance(r, order_loop.OrderResult) for a in _devices(demo, r)}
    assert sum(x.startswith("UPDATE devices") for x in seen) == len(devices), text_  # one claim per device
    assert max_load(demo) <= 1000


def _devices(p: Platform, r: order_loop.OrderResult) -> set[int]:
    with p.tx() as s:
        return set(s.scalars(select(AllocationRow.device_id).where(AllocationRow.lease_id == r.order.lease_id)))


def test_each_order_of_a_batch_is_recorded_and_audited_as_its_own_tenant(demo: Platform,
                                                                          operator: Principal) -> None:
    who = tenants(demo, operator, 4)
    orders.create_order(demo, who[0], SLICE)
    with paused(demo):
        tickets = [submit(demo, t, SLICE) for t in who]
    results = [result(t) for t in tickets]
    with demo.tx() as s:
        for t, r in zip(who, results, strict=True):
            assert isinstance(r, order_loop.OrderResult)
            lease = s.get(LeaseRow, r.order.lease_id)
            assert lease is not None and lease.tenant_id == t.tenant_id
            rows = s.scalars(select(AuditEventRow).where(
                AuditEventRow.object_id.in_([r.order.id, r.order.lease_id]))).all()
            assert {(a.object_type, a.actor_id, a.tenant_id) for a in rows} == {
                (table, t.account_id, t.tenant_id) for table in ("orders", "leases", "slice_grants")}, rows
            events = s.execute(text("SELECT actor FROM lease_events WHERE lease_id = :l"),
                               {"l": r.order.lease_id}).scalars().all()
            assert events == [t.name], events


def test_a_batch_the_database_refuses_is_placed_again_order_by_order(demo: Platform, operator: Principal) -> None:
    """A concurrent writer moves the devices' versions just before the batch's claim: the claim is refused,
    the batch's rows are undone, and each order is placed again on a fresh snapshot, alone: every order is
    granted once, nothing is over capacity, and each audit row still names its own tenant."""
    who = tenants(demo, operator, 5)
    orders.create_order(demo, who[0], SLICE)
    before = counts(demo)
    moved: list[str] = []

    def move_first(conn: Any, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE DEVICES") and not moved:
            moved.append(statement)  # once: the per-order retries then claim normally
            conn.exec_driver_sql("UPDATE devices SET alloc_version = alloc_version + 1")

    with paused(demo):
        tickets = [submit(demo, t, SLICE) for t in who]
        event.listen(demo.engine, "before_cursor_execute", move_first)
    try:
        results = [result(t) for t in tickets]
    finally:
        event.remove(demo.engine, "before_cursor_execute", move_first)
    assert moved
    assert all(isinstance(r, order_loop.OrderResult) and r.order.status == "fulfilled" for r in results), results
    assert counts(demo) == tuple(n + len(who) for n in before)
    assert max_load(demo) <= 1000
    with demo.tx() as s:
        for t, r in zip(who, results, strict=True):
            assert isinstance(r, order_loop.OrderResult)
            actors = set(s.scalars(select(AuditEventRow.actor_id).where(AuditEventRow.object_id == r.order.lease_id)))
            assert actors == {t.account_id}


def test_same_key_in_a_batch_whose_rows_are_refused_replays_the_order_written(demo: Platform,
                                                                              operator: Principal) -> None:
    """The second ticket with a key replays the first; if the batch's rows are refused and the first is placed
    again (a new order), the replay names the order that was written, not the undone one."""
    who = tenants(demo, operator, 2)
    orders.create_order(demo, who[0], SLICE)
    moved: list[str] = []

    def move_first(conn: Any, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE DEVICES") and not moved:
            moved.append(statement)
            conn.exec_driver_sql("UPDATE devices SET alloc_version = alloc_version + 1")

    with paused(demo):
        a = submit(demo, who[1], SLICE, "k-1")
        b = submit(demo, who[1], SLICE, "k-1")
        event.listen(demo.engine, "before_cursor_execute", move_first)
    try:
        first, second = result(a), result(b)
    finally:
        event.remove(demo.engine, "before_cursor_execute", move_first)
    assert moved
    assert isinstance(first, order_loop.OrderResult) and not first.replayed
    assert isinstance(second, order_loop.OrderResult) and second.replayed
    assert second.order.id == first.order.id and second.order.lease_id == first.order.lease_id
    with demo.tx() as s:
        assert s.get(OrderRow, first.order.id) is not None
        assert s.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.idempotency_key == "k-1")) == 1


def test_a_member_between_plain_orders_sees_their_grants(demo: Platform, operator: Principal) -> None:
    """An order written at once (a member's, under its spend limit) between plain orders of one batch: the plain
    orders before it are written first, so it and the ones after it place on one true state."""
    from suanli.service import accounts, members

    who = tenants(demo, operator, 4)
    _m, token = members.add_member(demo, who[0], "bw-dev", "developer", spend_limit="1000")
    dev = accounts.authenticate(demo, token)
    orders.create_order(demo, who[1], SLICE)
    big = {"form": "slice", "share_pct": 45, "memory_mib": 1024, "models": ["L20"]}
    with paused(demo):
        tickets = ([submit(demo, t, big) for t in who[1:]] + [submit(demo, dev, big)]
                   + [submit(demo, t, big) for t in who[1:]])
    results = [result(t) for t in tickets]
    assert all(isinstance(r, order_loop.OrderResult) and r.order.status == "fulfilled" for r in results), results
    assert max_load(demo) <= 1000

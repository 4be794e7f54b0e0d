"""ORDERS (issue 12, docs/performance.md "The order and the end"): the statements one slice order and its
end cost. A statement added back to either path fails here (SQLite and PostgreSQL).

One order alone in its batch: the batch's reads (placement lock on PostgreSQL, idempotency keys,
reservations, plans, the fleet snapshot) and the grant's writes — the devices' compare-and-set, one
INSERT per table (order, lease, event, host hold, allocation, quote, slice grant) and ONE audit INSERT
for all of them, with no read-back of the lease's tenant. The end: the lease and its allocations read
for update, the allocations' and holds' UPDATEs, the lease's UPDATE (its audit row built from the lease
already read), the audit row and the lease event."""

from __future__ import annotations

import threading

from sqlalchemy import event, select

from suanli.domain.accounts import Principal
from suanli.service import leases, orders
from suanli.service.platform import Platform
from suanli.store.audit import AuditEventRow
from suanli.testing.clock import FakeClock
from suanli.testing.statements import statements

ORDER_BATCH_READS = 17
"""The batch's reads before the grant (PostgreSQL adds the advisory lock): one-off per batch of up to 64
(the 17th since slice mixing: which enforcement each device's live slices have)."""
ORDER_GRANT = 9
"""The grant's statements for a slice: alloc_version CAS + 7 INSERTs + 1 audit INSERT."""
END = 7




def _lock(p: Platform) -> int:
    return 1 if p.engine.dialect.name == "postgresql" else 0


def test_a_slice_order_takes_one_audit_insert_and_no_read_back(demo: Platform, tenant: Principal) -> None:
    first = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    assert first.order.lease_id is not None
    with statements(demo.engine) as seen:
        res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    assert res.order.lease_id is not None
    text = "\n".join(seen)
    grant = seen[next(i for i, x in enumerate(seen) if x.startswith("UPDATE devices")):]
    assert len(grant) == ORDER_GRANT, text
    assert sum(x.startswith("INSERT INTO audit_events") for x in seen) == 1, text
    assert not any(x.startswith("SELECT tenant_id FROM") for x in seen), text
    assert len(seen) <= ORDER_BATCH_READS + _lock(demo) + ORDER_GRANT, text


def test_the_end_reads_the_lease_once(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    assert res.order.lease_id is not None
    clock.advance(60)
    with statements(demo.engine) as seen:
        leases.end_lease(demo, tenant, res.order.lease_id)
    text = "\n".join(seen)
    assert len(seen) <= END, text
    assert sum(x.startswith("SELECT leases.") for x in seen) == 1, text


def test_the_end_still_audits_the_lease_as_it_was(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    """The audit row of the end, built without reading the lease back, records the move from what was stored."""
    res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    lease_id = res.order.lease_id
    assert lease_id is not None
    clock.advance(60)
    leases.end_lease(demo, tenant, lease_id, "no longer needed")
    with demo.read() as s:
        rows = s.scalars(select(AuditEventRow).where(AuditEventRow.object_type == "leases",
                                                     AuditEventRow.object_id == lease_id)
                         .order_by(AuditEventRow.id)).all()
        assert [r.action for r in rows] == ["create", "update"]
        end = rows[-1]
        assert end.tenant_id == tenant.tenant_id
        assert end.changes["state"] == ["active", "ended"]
        assert end.changes["reason"][1] == "no longer needed"
        assert end.changes["ended_at"][0] is None and end.changes["ended_at"][1] == clock.now().isoformat()
        grant_audit = s.scalars(select(AuditEventRow.object_type).where(AuditEventRow.tenant_id == tenant.tenant_id,
                                                                        AuditEventRow.action == "create")).all()
        assert {"orders", "leases", "lease_quotes", "slice_grants"} <= set(grant_audit)


def test_a_batch_takes_one_pooled_connection(demo: Platform, tenant: Principal) -> None:
    """Nothing inside the batch's transaction opens a second one (the agent nodes' read, due every second,
    did: on SQLite the batch then waited for a pooled connection while holding the write lock that the
    requests holding the pool were queued behind — ``database is locked`` and 500s under load)."""
    orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    demo.agent_nodes_changed()  # the agent nodes are due for a read
    held = {"now": 0, "most": 0}

    def checkout(*_args: object) -> None:
        if threading.current_thread().name == "suanli-placement":
            held["now"] += 1
            held["most"] = max(held["most"], held["now"])

    def checkin(*_args: object) -> None:
        if threading.current_thread().name == "suanli-placement":
            held["now"] -= 1

    event.listen(demo.engine.pool, "checkout", checkout)
    event.listen(demo.engine.pool, "checkin", checkin)
    try:
        res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    finally:
        event.remove(demo.engine.pool, "checkout", checkout)
        event.remove(demo.engine.pool, "checkin", checkin)
    assert res.order.lease_id is not None
    assert held["most"] == 1, held

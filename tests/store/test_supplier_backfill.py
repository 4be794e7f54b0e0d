"""Migration 0011 on real SQLite and PostgreSQL: every node gets its ownership from the beginning,
and usage stored before it without a supplier is attributed once: through its node, or through
its lease's one node at that instant; the rest (no node, an unknown node, a lease that held
nothing then) stays the operator's own."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import delete, select

from suanli.domain.accounts import Principal
from suanli.domain.fleet import BEGINNING
from suanli.service import leases, orders
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store
from suanli.store import usage as usage_store
from suanli.store.money_tables import UsageEventRow
from suanli.store.tables import NodeOwnerRow
from suanli.testing.clock import FakeClock


def _migration() -> ModuleType:
    path = Path(fleet_store.__file__).parent / "migrations" / "versions" / "0011_supplier_attribution.py"
    spec = importlib.util.spec_from_file_location("migration_0011", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_backfill_attributes_what_was_stored_without_a_supplier(demo: Platform, operator: Principal,
                                                                   tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["RTX-4090"]})
    lease, _ = leases.get_lease(demo, tenant, res.order.lease_id or "")
    node = lease.allocations[0].node
    clock.advance(hours=2)
    now = clock.now()

    def row(i: str, *, node: str = "", lease: str = "", minutes: int = 30) -> dict[str, Any]:
        return {"source": "old-agent", "event_id": i, "tenant_id": tenant.account_id, "meter": "device_seconds",
                "time": lease_start + timedelta(minutes=minutes), "quantity": Decimal(60), "model": "RTX-4090", "site": "",
                "supplier": "", "node": node, "lease": lease, "order_id": "", "payload_hash": i, "period": "2026-11",
                "ingested_at": now}

    lease_start = lease.start
    with demo.tx() as s:  # as a store before 0011 held them: no supplier, no ownership history for two nodes
        usage_store.insert_events(s, [row("on-node", node="sh-h800-01"), row("on-lease", lease=lease.id),
                                      row("before-lease", lease=lease.id, minutes=-30),
                                      row("gateway"), row("gone-node", node="old-node")])
        s.execute(delete(NodeOwnerRow).where(NodeOwnerRow.node.in_(["sh-h800-01", node])))
    with demo.engine.begin() as conn:
        _migration()._backfill(conn)
        _migration()._backfill(conn)  # idempotent
    with demo.tx() as s:
        got = {r.event_id: (r.node, r.supplier) for r in s.scalars(select(UsageEventRow))}
        spans = fleet_store.ownership(s)
    assert got == {"on-node": ("sh-h800-01", "huadong-idc"), "on-lease": (node, "xibu-compute"),
                   "before-lease": ("", ""), "gateway": ("", ""), "gone-node": ("old-node", "")}
    assert len(spans) == 17 and {x.start for x in spans} == {BEGINNING} and all(x.end is None for x in spans)
    assert {x.node: x.supplier for x in spans}["sh-h800-01"] == "huadong-idc"

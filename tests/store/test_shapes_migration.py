"""Migration 0029 (custom shapes) goes up, down and up again on SQLite and PostgreSQL; the live leases
of before get their devices' proportional share of their nodes (a whole node for a server), an ended
one nothing; and the new capacity rule holds on the migrated database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError

T = "'2026-11-23 08:00:00+00:00'"
SETUP = [
    "INSERT INTO sites (name, region, tier, pue, power_price_kwh, currency) VALUES ('s1', 'r', 'cloud', '1.3', '0.8', 'CNY')",
    "INSERT INTO suppliers (name, display_name) VALUES ('sup', 'Sup')",
    "INSERT INTO nodes (id, name, site, supplier, cpu_cores, memory_gib, nic_gbps, disk_gb, fabric, model, device_count, "
    "state, state_reason) VALUES (1, 'n1', 's1', 'sup', 64, 512, 100, 7680, 'f', 'L20', 8, 'available', '')",
    "INSERT INTO nodes (id, name, site, supplier, cpu_cores, memory_gib, nic_gbps, disk_gb, fabric, model, device_count, "
    "state, state_reason) VALUES (2, 'n2', 's1', 'sup', 64, 512, 100, 7680, 'f', 'L20', 2, 'available', '')",
    *[f"INSERT INTO devices (id, node_id, slot, model, alloc_version) VALUES ({i + 1}, 1, {i}, 'L20', 0)" for i in range(8)],
    "INSERT INTO devices (id, node_id, slot, model, alloc_version) VALUES (9, 2, 0, 'L20', 0)",
    "INSERT INTO devices (id, node_id, slot, model, alloc_version) VALUES (10, 2, 1, 'L20', 0)",
    f"INSERT INTO accounts (id, name, role, created_at) VALUES ('t1', 'acme', 'tenant', {T})",
]


def lease(n: int, form: str, state: str, allocs: list[tuple[int, int, str | None]]) -> list[str]:
    out = [f"INSERT INTO orders (id, tenant_id, idempotency_key, form, spec, start_at, status, reason, created_at) "
           f"VALUES ('o{n}', 't1', 'k{n}', '{form}', '{{}}', {T}, 'fulfilled', '', {T})",
           f"INSERT INTO leases (id, order_id, tenant_id, form, state, start_at, reason, commission_rate, placement, "
           f"created_at) VALUES ('l{n}', 'o{n}', 't1', '{form}', '{state}', {T}, '', '0.15', '', {T})"]
    for device, milli, end in allocs:
        out.append(f"INSERT INTO allocations (lease_id, device_id, milli, memory_mib, start_at, end_at) VALUES "
                   f"('l{n}', {device}, {milli}, 0, {T}, {end or 'NULL'})")
    return out


def test_0029_up_down_up_with_live_leases_backfilled(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated
    to("0028", True)
    with engine.begin() as c:
        for sql in [*SETUP, *lease(1, "gpu", "active", [(1, 1000, None), (2, 1000, None)]),
                    *lease(2, "slice", "active", [(3, 250, None)]),
                    *lease(3, "server", "active", [(9, 1000, None), (10, 1000, None)]),
                    *lease(4, "gpu", "ended", [(4, 1000, "'2026-11-23 09:00:00+00:00'")])]:
            c.execute(text(sql))
    to("0029", True)
    assert {"node_allocations", "resource_prices"} <= set(inspect(engine).get_table_names())
    with engine.begin() as c:
        rows = sorted(tuple(r) for r in c.execute(text(
            "SELECT lease_id, node_id, cpu_milli, ram_mib, nic_mbps, disk_gib, extra_cpu_milli FROM node_allocations")))
    assert rows == [("l1", 1, 16000, 131072, 25000, 1788, 0),  # 2 of 8 L20: a quarter of the node
                    ("l2", 1, 2000, 16384, 3125, 223, 0),  # a quarter of one device
                    ("l3", 2, 64000, 524288, 100000, 7152, 0)]  # a server: the whole node
    with pytest.raises((IntegrityError, OperationalError)), engine.begin() as c:  # 46 cores are left on n1
        c.execute(text(f"INSERT INTO node_allocations (lease_id, node_id, cpu_milli, ram_mib, nic_mbps, disk_gib, "
                       f"extra_cpu_milli, extra_ram_mib, extra_nic_mbps, extra_disk_gib, start_at) "
                       f"VALUES ('l4', 1, 47000, 0, 0, 0, 0, 0, 0, 0, {T})"))
    to("0028", False)
    assert "node_allocations" not in inspect(engine).get_table_names()
    to("head", True)
    assert "node_allocations" in inspect(engine).get_table_names()

"""Migration 0027 (node agents) goes up, down and up again on SQLite and PostgreSQL; the tables hold
their invariants: a join token's hash is unique, an agent state outside the four is refused, a
job's usage is stored once, utilisation over 100 % is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

TABLES = {"agent_join_tokens", "agent_nodes", "agent_leases", "agent_jobs", "agent_usage", "agent_telemetry"}
AT = "'2026-12-01 00:00:00+00:00'"


def test_0027_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def present() -> set[str]:
        return TABLES & set(inspect(engine).get_table_names())

    to("0027", True)
    assert present() == TABLES
    with engine.begin() as c:
        c.execute(text("INSERT INTO sites (name, region, tier, pue, power_price_kwh, currency) "
                       "VALUES ('s1', 'r1', 'edge', '1.3', '0.5', 'CNY')"))
        c.execute(text("INSERT INTO suppliers (name, display_name) VALUES ('sup', '')"))
        c.execute(text("INSERT INTO nodes (name, site, supplier, cpu_cores, memory_gib, nic_gbps, disk_gb, fabric, "
                       "model, device_count, state, state_reason) VALUES ('n1', 's1', 'sup', 8, 64, 100, 0, 'f', "
                       "'L20', 2, 'available', '')"))
        c.execute(text(f"INSERT INTO agent_join_tokens (id, token_hash, prefix, node, created_by, created_at, expires_at, approve) "
                       f"VALUES ('j1', 'h1', 'slj_ab', 'n1', 'op', {AT}, {AT}, false)"))
        c.execute(text(f"INSERT INTO agent_usage (job_id, lease_id, node, device_indices, devices, start, \"end\", "
                       f"state, device_seconds, reported_at) VALUES ('a1', 'l1', 'n1', '[]', 1, {AT}, {AT}, "
                       f"'completed', '1', {AT})"))
    refused = [
        f"INSERT INTO agent_join_tokens (id, token_hash, prefix, node, created_by, created_at, expires_at, approve) "
        f"VALUES ('j2', 'h1', 'slj_cd', 'n1', 'op', {AT}, {AT}, false)",
        f"INSERT INTO agent_nodes (node, state, credential_prefix, agent_id, boot_id, version, backend, devices, "
        f"address, approved_by, updated_at) VALUES ('n1', 'lost', '', '', '', '', '', '[]', '', '', {AT})",
        f"INSERT INTO agent_usage (job_id, lease_id, node, device_indices, devices, start, \"end\", state, "
        f"device_seconds, reported_at) VALUES ('a1', 'l1', 'n1', '[]', 1, {AT}, {AT}, 'completed', '1', {AT})",
        f"INSERT INTO agent_telemetry (node, device_index, at, name, uuid, utilisation_pct) "
        f"VALUES ('n1', 0, {AT}, '', '', 101)",
    ]
    for sql in refused:
        with pytest.raises(IntegrityError), engine.begin() as c:
            c.execute(text(sql))
    to("0026", False)
    assert present() == set()
    to("head", True)
    assert present() == TABLES

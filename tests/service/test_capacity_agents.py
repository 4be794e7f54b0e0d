"""The capacity series measures agent nodes from their agents' telemetry (issue 14: "measured
utilisation and energy"): each sample uses the latest figures an approved agent reported within
``agent_down_s``; a silent agent's stale figures are not used (the span falls back to the model).
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from suanli.domain.accounts import Principal
from suanli.domain.agents import Telemetry
from suanli.drivers.telemetry import NullTelemetry
from suanli.service import capacity
from suanli.service.platform import Platform
from suanli.store import agents as agent_store
from suanli.store.agent_tables import AgentNodeRow
from suanli.testing.clock import FakeClock

NONE = NullTelemetry()


def report(p: Platform, operator: Principal, clock: FakeClock, start_at: object) -> dict[str, object]:
    rep = capacity.report(p, operator, start_at, clock.now(), by="node")  # type: ignore[arg-type]
    return {g.key: g.figures for g in rep.groups}


def heartbeat(p: Platform, node: str, util: int, watts: str, state: str = "approved") -> None:
    """What a heartbeat leaves in the database: last seen now and each device's latest sample."""
    now = p.clock.now()
    with p.tx() as s:
        s.merge(AgentNodeRow(node=node, state=state, updated_at=now, last_seen_at=now))
        agent_store.upsert_telemetry(s, node, [Telemetry(index=i, at=now, utilisation_pct=util,
                                                         power_w=Decimal(watts)) for i in range(8)], now)


def test_agent_nodes_are_measured_from_their_telemetry(demo: Platform, operator: Principal,
                                                       clock: FakeClock) -> None:
    capacity.sample(demo, NONE)
    t0 = clock.now()
    for _ in range(60):
        clock.advance(60)
        heartbeat(demo, "sz-l20-01", 50, "200")
        heartbeat(demo, "sz-l20-02", 90, "300", state="pending")  # not approved: not measured
        capacity.sample(demo, NONE)
    by_node = report(demo, operator, clock, t0)
    measured = by_node["sz-l20-01"]
    assert measured.utilisation == Decimal("0.5000")  # type: ignore[attr-defined]
    assert measured.it_kwh == measured.measured_kwh == Decimal("1.600")  # type: ignore[attr-defined]  # 8 × 200 W × 1 h
    assert by_node["sz-l20-02"].utilisation is None  # type: ignore[attr-defined]
    assert by_node["sz-l20-02"].measured_kwh == 0  # type: ignore[attr-defined]


def test_a_silent_agents_stale_figures_are_not_used(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    capacity.sample(demo, NONE)
    heartbeat(demo, "sz-l20-01", 50, "200")
    t0 = clock.now()
    clock.advance(timedelta(seconds=31).total_seconds())  # past agent_down_s (30 s): stale
    capacity.sample(demo, NONE)
    clock.advance(60)
    capacity.sample(demo, NONE)
    by_node = report(demo, operator, clock, t0)
    assert by_node["sz-l20-01"].measured_kwh == 0  # type: ignore[attr-defined]
    assert by_node["sz-l20-01"].utilisation is None  # type: ignore[attr-defined]

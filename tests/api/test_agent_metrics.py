"""``/metrics`` of agent nodes (issue 14 item 2): per node ``suanli_agent_up`` (1 up / 0.5 suspect /
0 down, derived from the last heartbeat on read), RTT and last-seen age; per device the latest
telemetry the agent reported, with labels node, device, site, model. A figure the device does not
report is absent (never 0). The read writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.domain.agents import Telemetry
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.store import agents as agent_store
from suanli.store.agent_tables import AgentNodeRow
from suanli.testing.clock import FakeClock


def agent(p: Platform, node: str, *, state: str = "approved", seen_ago_s: float | None = 1,
          rtt: str | None = None) -> None:
    now = p.clock.now()
    with p.tx() as s:
        s.merge(AgentNodeRow(node=node, state=state, updated_at=now,
                             last_seen_at=None if seen_ago_s is None else now - timedelta(seconds=seen_ago_s),
                             rtt_ms=None if rtt is None else Decimal(rtt)))


def scrape(p: Platform, token: str) -> dict[str, float]:
    with TestClient(create_app(p)) as c:
        r = c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in r.text.splitlines() if line.startswith("suanli_agent_")}


def test_agent_nodes_and_devices_in_metrics(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    token = accounts.issue_token(demo, operator, operator.name)
    agent(demo, "sz-l20-01", rtt="2.5", seen_ago_s=1)
    agent(demo, "sz-l20-02", seen_ago_s=20)  # suspect (15 < 20 <= 30)
    agent(demo, "nx-910b-01", seen_ago_s=None, state="pending")
    now = demo.clock.now()
    with demo.tx() as s:
        agent_store.upsert_telemetry(s, "sz-l20-01", [
            Telemetry(index=0, at=now, name="NVIDIA L20", utilisation_pct=75, memory_used_mib=1024,
                      memory_total_mib=46068, power_w=Decimal("212.5"), temperature_c=61, errors=0,
                      energy_kwh=Decimal("12.25")),
            Telemetry(index=1, at=now, name="NVIDIA L20", utilisation_pct=None, power_w=None),
        ], now)
    m = scrape(demo, token)
    assert m['suanli_agent_up{node="sz-l20-01",site="sz-edge-1",state="approved"}'] == 1.0
    assert m['suanli_agent_up{node="sz-l20-02",site="sz-edge-1",state="approved"}'] == 0.5
    assert m['suanli_agent_up{node="nx-910b-01",site="nx-west-1",state="pending"}'] == 0.0
    assert m['suanli_agent_rtt_seconds{node="sz-l20-01",site="sz-edge-1"}'] == 0.0025
    assert m['suanli_agent_last_seen_seconds{node="sz-l20-02",site="sz-edge-1"}'] == 20.0
    assert not any(k.startswith("suanli_agent_last_seen_seconds{node=\"nx-910b-01\"") for k in m)
    d0 = 'device="0",model="L20",node="sz-l20-01",site="sz-edge-1"'
    assert m[f"suanli_agent_device_utilisation_ratio{{{d0}}}"] == 0.75
    assert m[f"suanli_agent_device_memory_used_bytes{{{d0}}}"] == 1024 * 1024 * 1024
    assert m[f"suanli_agent_device_memory_total_bytes{{{d0}}}"] == 46068 * 1024 * 1024
    assert m[f"suanli_agent_device_power_watts{{{d0}}}"] == 212.5
    assert m[f"suanli_agent_device_temperature_celsius{{{d0}}}"] == 61
    assert m[f"suanli_agent_device_ecc_errors_total{{{d0}}}"] == 0
    assert m[f"suanli_agent_device_energy_kwh_total{{{d0}}}"] == 12.25
    assert not any('device="1"' in k for k in m)  # nothing reported: nothing shown
    clock.advance(31)  # silent past the grace: down, derived on read
    m = scrape(demo, token)
    assert m['suanli_agent_up{node="sz-l20-01",site="sz-edge-1",state="approved"}'] == 0.0
    assert m['suanli_agent_last_seen_seconds{node="sz-l20-01",site="sz-edge-1"}'] == 32.0

"""The node agent against the real API in process (the ASGI app through an httpx transport, SQLite
and PostgreSQL): join with a one-time token, credential saved and reused after a restart, heartbeats
carrying the measured RTT and the devices' telemetry, refusals it cannot get past.

The Ascend telemetry comes from an ``npu-smi info`` table written from the documented layout (see
tests/drivers/test_device_backends.py): no NPU is available here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanli.agent.loop import Agent, AgentConfig, AgentError
from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.drivers.devices.npu_smi import NpuSmi
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NODE = "nx-910b-03"  # the demo fleet's, 8 Ascend devices

ROW = """\
| {i}     910B3               | OK            | 9{i}.5        4{i}                0    / 0             |
| 0                         | 0000:C{i}:00.0  | 1{i}          0    / 0          316{i} / 65536         |
+===========================+===============+====================================================+
"""
NPU_SMI = """\
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
""" + "".join(ROW.format(i=i) for i in range(8))


def npu_smi(argv: Sequence[str]) -> str:
    assert list(argv) == ["npu-smi", "info"]
    return NPU_SMI


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def join_token(c: TestClient, op: dict[str, str], **extra: object) -> str:
    r = c.post("/v1/agents/join-tokens", json={"node": NODE, **extra}, headers=op)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def make_agent(c: TestClient, tmp_path: Path, token: str | None) -> Agent:
    cfg = AgentConfig(server="http://testserver", node=NODE, state_dir=tmp_path / "agent", join_token=token,
                      backend="none", devices=8, kill_grace_s=0.5)
    agent = Agent.from_config(cfg, http=c, sleep=lambda s: None)
    agent.backend = NpuSmi(node=NODE, runner=npu_smi)
    return agent


def test_agent_joins_heartbeats_telemetry_and_restarts_without_a_token(
        http: tuple[TestClient, dict[str, str]], tmp_path: Path, clock: FakeClock) -> None:
    c, op = http
    token = join_token(c, op)
    agent = make_agent(c, tmp_path, token)
    agent.step()
    assert agent.state.credential and agent.state.credential.startswith("sln_")
    assert agent.server_state == "pending"
    saved = (tmp_path / "agent" / "state.json").read_text()
    assert agent.state.credential in saved
    a = c.get(f"/v1/agents/{NODE}", headers=op).json()
    assert (a["state"], a["backend"], len(a["devices"])) == ("pending", "npu-smi", 8)
    r = c.post(f"/v1/agents/{NODE}/approve", headers=op)
    assert r.status_code == 200, r.text
    agent.step()
    agent.step()
    assert agent.server_state == "approved"
    a = c.get(f"/v1/agents/{NODE}", headers=op).json()
    assert a["health"] == "up" and a["boot_id"] == agent.boot_id
    assert a["rtt_ms"] is not None and float(a["rtt_ms"]) >= 0  # the median of the calls it measured
    t = {d["index"]: d for d in a["telemetry"]}
    assert (t[3]["utilisation_pct"], t[3]["memory_used_mib"], t[3]["memory_total_mib"]) == (13, 3163, 65536)
    assert (t[3]["power_w"], t[3]["temperature_c"]) == ("93.5", 43)

    # a restart: same state directory, no token, same credential, a new boot id
    again = make_agent(c, tmp_path, None)
    assert again.state.credential == agent.state.credential and again.state.agent_id == agent.state.agent_id
    again.step()
    a = c.get(f"/v1/agents/{NODE}", headers=op).json()
    assert a["boot_id"] == again.boot_id != agent.boot_id and a["health"] == "up"


def test_a_refused_join_stops_the_agent_with_the_reason(http: tuple[TestClient, dict[str, str]],
                                                          tmp_path: Path) -> None:
    c, op = http
    token = join_token(c, op)
    first = make_agent(c, tmp_path / "one", token)
    first.step()
    second = make_agent(c, tmp_path / "two", token)  # the same one-time token again
    with pytest.raises(AgentError, match="already used at"):
        second.step()
    assert second.state.credential is None

"""The node agent on its own (no server answering): its state directory, fencing when cut off, and
re-attaching to its jobs after a restart. The agent talks to a real closed port (connection refused),
its jobs are real sandboxed processes in its embedded LocalDriver; time for fencing is an injected
monotonic clock, so nothing waits on wall time for the fence itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from suanli.agent.loop import Agent, AgentConfig, AgentError, spec_of
from suanli.agent.state import AgentState, StateDir
from suanli.client.agent_link import AgentLink
from suanli.domain.catalog import Vendor
from suanli.drivers.base import WHOLE, DeviceAllocation, JobState, LeaseGrant
from suanli.errors import ValidationError

WAIT = 20.0


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def grant(lease_id: str = "ls_1", node: str = "edge-1") -> LeaseGrant:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    return LeaseGrant(lease_id=lease_id, tenant="tenant-a", start=start, end=start + timedelta(hours=1),
                      allocations=(DeviceAllocation(node=node, device_indices=(0, 1), device_milli=(WHOLE, WHOLE),
                                                    vendor=Vendor.NVIDIA),))


def joined(tmp_path: Path, *, fence_s: float = 1.2) -> AgentConfig:
    sd = StateDir(tmp_path / "state")
    sd.save(AgentState(node="edge-1", server="http://x", credential="sln_" + "a" * 40, heartbeat_s=0.2,
                       fence_s=fence_s))
    return AgentConfig(server=f"http://127.0.0.1:{closed_port()}", node="edge-1", state_dir=tmp_path / "state",
                       backend="none", devices=2, kill_grace_s=0.5)


def wait_for(pred, timeout: float = WAIT) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def test_state_dir_is_private_durable_and_one_node(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "s")
    st = sd.load(node="edge-1", server="http://srv/")
    assert st.server == "http://srv" and st.credential is None and len(st.agent_id) == 36
    st.credential = "sln_secret"
    st.acked["agj_1"] = "completed"
    st.usage_acked.add("agj_1")
    sd.save(st)
    assert stat.S_IMODE(os.stat(tmp_path / "s").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "s" / "state.json").st_mode) == 0o600
    again = StateDir(tmp_path / "s").load(node="edge-1", server="http://srv")
    assert (again.agent_id, again.credential, again.acked, again.usage_acked) == (
        st.agent_id, "sln_secret", {"agj_1": "completed"}, {"agj_1"})
    with pytest.raises(ValidationError, match="belongs to node edge-1, not edge-2"):
        sd.load(node="edge-2", server="http://srv")
    (tmp_path / "s" / "state.json").write_text("{torn")
    with pytest.raises(ValidationError, match="not valid JSON"):
        sd.load(node="edge-1", server="http://srv")


def test_no_credential_and_no_join_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="no join token was given"):
        Agent.from_config(AgentConfig(server="http://127.0.0.1:9", node="n", state_dir=tmp_path / "s",
                                      backend="none"))


def test_spec_of_the_wire() -> None:
    s = spec_of({"command": ["sh", "-c", "true"], "env": {"A": "1"}, "devices": 1, "cpus": 2, "memory_mib": 64,
                 "time_limit_s": 30, "name": "x"}, "edge-1")
    assert (s.command, s.node, s.devices, s.cpus, s.time_limit) == (("sh", "-c", "true"), "edge-1", 1, 2,
                                                                    timedelta(seconds=30))


def test_cut_off_agent_fences_its_jobs_and_reports_them_when_back(tmp_path: Path) -> None:
    mono = Mono()
    agent = Agent.from_config(joined(tmp_path), monotonic=mono, sleep=lambda s: None)
    agent.driver.provision(grant())
    h = agent.driver.submit("ls_1", spec_of({"command": ["sleep", "60"]}, "edge-1"), job_id="agj_00000000000a")
    assert wait_for(lambda: agent.driver.poll(h.job_id).state is JobState.RUNNING)
    agent.step()  # the server does not answer: retried, logged, nothing else
    assert agent.check_fence() is False  # not yet past fence_s
    mono.t += 1.0
    assert agent.check_fence() is False
    mono.t += 1.1  # 2.1 s since the last success > fence_s 1.2
    assert agent.check_fence() is True
    st = agent.driver.poll(h.job_id)
    assert st.state is JobState.FAILED and st.reason == "fenced: cut off from the server for 2 s"
    assert agent.driver.leases() == []  # released locally
    assert agent.fenced
    # everything the server must hear is kept until it acknowledges it
    body = agent.pending_report()
    assert [(j["job_id"], j["state"], j["reason"]) for j in body["jobs"]] == [
        ("agj_00000000000a", "failed", "fenced: cut off from the server for 2 s")]
    assert [u["job_id"] for u in body["usage"]] == ["agj_00000000000a"]
    # fenced, it applies no work until a call succeeds
    agent.apply({"generation": 7, "leases": [{"lease_id": "ls_2", "grant": grant("ls_2").to_dict()}], "jobs": []})
    assert agent.driver.leases() == []


def test_restarted_agent_keeps_its_credential_and_reattaches_to_running_jobs(tmp_path: Path) -> None:
    cfg = joined(tmp_path, fence_s=60)

    def first_life() -> str:  # the first agent process: gone when this returns (its job runs on, own session)
        first = Agent.from_config(cfg, sleep=lambda s: None)
        first.driver.provision(grant())
        h = first.driver.submit("ls_1", spec_of({"command": ["sleep", "60"]}, "edge-1"), job_id="agj_00000000000b")
        assert wait_for(lambda: first.driver.poll(h.job_id).state is JobState.RUNNING)
        first.state.acked[h.job_id] = "running"  # the server had acknowledged it running
        first.dir.save(first.state)
        return h.job_id

    job_id = first_life()
    pgid = json.loads((tmp_path / "state" / "engine" / "accounting.jsonl").read_text().splitlines()[0])["pgid"]

    second = Agent.from_config(cfg, sleep=lambda s: None)
    assert second.state.credential == "sln_" + "a" * 40 and second.link.credential == second.state.credential
    assert second.driver.poll(job_id).state is JobState.RUNNING
    assert second.pending_report()["jobs"] == []  # nothing new to say while it runs
    os.killpg(pgid, signal.SIGKILL)
    assert wait_for(lambda: second.driver.poll(job_id).state is JobState.LOST)
    body = second.pending_report()
    assert [(j["job_id"], j["state"]) for j in body["jobs"]] == [(job_id, "lost")]
    assert [u["job_id"] for u in body["usage"]] == [job_id]


def test_work_that_cannot_start_is_reported_failed_not_lost(tmp_path: Path) -> None:
    agent = Agent.from_config(joined(tmp_path, fence_s=60), sleep=lambda s: None)
    agent.apply({"generation": 1, "leases": [{"lease_id": "ls_1", "grant": grant().to_dict()}],
                 "jobs": [{"job_id": "agj_00000000000c", "lease_id": "ls_1", "cancel": False,
                           "spec": {"command": ["true"], "devices": 5}},
                          {"job_id": "agj_00000000000d", "lease_id": "ls_1", "cancel": True,
                           "spec": {"command": ["true"]}}]})
    jobs = {j["job_id"]: j for j in agent.pending_report()["jobs"]}
    assert jobs["agj_00000000000c"]["state"] == "failed"
    assert "could not start" in jobs["agj_00000000000c"]["reason"]
    assert jobs["agj_00000000000d"]["state"] == "cancelled"
    # the made-up reports survive a restart
    again = Agent.from_config(AgentConfig(server="http://127.0.0.1:9", node="edge-1", state_dir=tmp_path / "state",
                                          backend="none", devices=2), sleep=lambda s: None)
    assert {j["job_id"] for j in again.pending_report()["jobs"]} == {"agj_00000000000c", "agj_00000000000d"}


def test_connect_timeout_follows_the_heartbeat() -> None:
    link = AgentLink("http://127.0.0.1:9")
    link.pace(0.2)
    assert (link.timeout.connect, link.timeout.read) == (1.0, 15.0)
    link.pace(2.0)
    assert link.timeout.connect == 4.0
    link.pace(30.0)
    assert link.timeout.connect == 5.0
    link.close()


def test_unreachable_server_is_retried_then_left_to_the_next_beat(tmp_path: Path) -> None:
    delays: list[float] = []
    agent = Agent.from_config(joined(tmp_path), sleep=delays.append)
    agent.step()  # connection refused three times: two back-off pauses, then the beat ends quietly
    assert len(delays) == 2 and 0 < delays[0] < delays[1] <= agent.state.heartbeat_s
    assert agent.beats == 0 and agent.rtts == deque()

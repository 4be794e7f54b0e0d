"""Node agents run a lease's jobs where its devices are, through the real API in process (the ASGI
app through an httpx transport; SQLite and PostgreSQL): two agent nodes, a tenant's lease on one,
its jobs run as real sandboxed processes by that node's agent only (under the server's job ids,
pinned to the lease's devices), their states, logs and usage reported back once; a cancel reaches
the running job; a fenced job is reported failed when the agent is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanli.agent.loop import Agent, AgentConfig, spec_of
from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.drivers.base import JobState
from suanli.service import accounts, engine, jobs, leases, orders
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NODES = ("sh-a800-01", "sh-a800-02")  # the demo fleet's A800 nodes, 8 devices each
WAIT = 20.0


@pytest.fixture
def clock() -> FakeClock:
    # the agents' engines run on the real clock: the server's starts at the real now (leases start then)
    return FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2))


class Mono:
    def __init__(self) -> None:
        self.t = 5000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def site(demo: Platform, operator: Principal, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Agent]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    op = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(demo)) as c:
        agents = {}
        for node in NODES:
            r = c.post("/v1/agents/join-tokens", json={"node": node, "approve": True}, headers=op)
            assert r.status_code == 201, r.text
            cfg = AgentConfig(server="http://testserver", node=node, state_dir=tmp_path / node,
                              join_token=r.json()["token"], backend="none", devices=8, kill_grace_s=0.5)
            agents[node] = Agent.from_config(cfg, http=c, sleep=lambda s: None, monotonic=Mono())
            agents[node].step()
            assert agents[node].server_state == "approved"
        demo.agent_nodes_changed()
        yield c, agents


def wait_for(pred, timeout: float = WAIT) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def lease_on_an_agent(demo: Platform, tenant: Principal, agents: dict[str, Agent]) -> tuple[str, Agent, Agent]:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["A800"]})
    lease_id = res.order.lease_id
    assert lease_id
    engine.reconcile_leases(demo)
    lease, _ = leases.get_lease(demo, tenant, lease_id)
    node = lease.allocations[0].node
    other = next(a for n, a in agents.items() if n != node)
    return lease_id, agents[node], other


def test_a_lease_runs_its_jobs_on_its_node_only(demo: Platform, tenant: Principal,
                                                site: tuple[TestClient, dict[str, Agent]]) -> None:
    _c, agents = site
    lease_id, agent, other = lease_on_an_agent(demo, tenant, agents)
    for a in agents.values():
        a.step()
    assert [g.lease_id for g in agent.driver.leases()] == [lease_id]
    assert other.driver.leases() == []

    job = jobs.submit_job(demo, tenant, lease_id, ["sh", "-c", "echo job=$SUANLI_JOB_ID CVD=$CUDA_VISIBLE_DEVICES; "
                                                   "echo warn >&2"], devices=2)
    assert job.driver_job_id.startswith("agj_")
    for a in agents.values():
        a.step()  # the generation changed: the agent of the lease's node fetches and starts the job
    assert [j.job_id for j in agent.driver.jobs()] == [job.driver_job_id]
    assert other.driver.jobs() == []  # nothing ran on the other host
    assert agent.driver.wait(job.driver_job_id, WAIT).state is JobState.COMPLETED
    agent.step()  # reports the end, the logs and the usage
    done = jobs.get_job(demo, tenant, job.id)
    assert done.state == "completed" and done.exit_code == 0
    logs = jobs.job_logs(demo, tenant, job.id)
    assert f"job={job.driver_job_id} CVD=" in logs and "warn" in logs
    pinned = logs.split("CVD=")[1].split()[0].split(",")
    lease, _ = leases.get_lease(demo, tenant, lease_id)
    slots = {a.slot for a in lease.allocations}
    (grant,) = agent.driver.leases()
    assert set(grant.allocations[0].device_indices) == slots  # the agent holds exactly the lease's devices
    assert {int(i) for i in pinned} <= slots and len(pinned) == 2  # and the job saw two of them
    assert agent.pending_report() == {"jobs": [], "usage": [], "logs": []}  # everything acknowledged
    assert jobs.collect_usage(demo) >= 1
    again = agent.pending_report()
    assert again["usage"] == []  # usage is sent once; the server would ignore it anyway


def test_cancel_reaches_the_running_job(demo: Platform, tenant: Principal,
                                        site: tuple[TestClient, dict[str, Agent]]) -> None:
    _c, agents = site
    lease_id, agent, _other = lease_on_an_agent(demo, tenant, agents)
    agent.step()
    job = jobs.submit_job(demo, tenant, lease_id, ["sleep", "60"], devices=1)
    agent.step()
    assert wait_for(lambda: agent.driver.poll(job.driver_job_id).state is JobState.RUNNING)
    agent.step()
    assert jobs.get_job(demo, tenant, job.id).state == "running"
    jobs.cancel_job(demo, tenant, job.id)
    agent.step()  # the cancel flag changes the generation: fetched, the job is stopped, reported
    assert agent.driver.poll(job.driver_job_id).state is JobState.CANCELLED
    agent.step()
    assert jobs.get_job(demo, tenant, job.id).state == "cancelled"


def test_fenced_job_is_reported_failed_when_the_agent_is_back(demo: Platform, tenant: Principal,
                                                              site: tuple[TestClient, dict[str, Agent]]) -> None:
    _c, agents = site
    lease_id, agent, _other = lease_on_an_agent(demo, tenant, agents)
    agent.step()
    job = jobs.submit_job(demo, tenant, lease_id, ["sleep", "60"], devices=1)
    agent.step()
    assert wait_for(lambda: agent.driver.poll(job.driver_job_id).state is JobState.RUNNING)
    mono = agent._monotonic
    assert isinstance(mono, Mono)
    mono.t += agent.state.fence_s + 1  # no call succeeded for longer than fence_s
    assert agent.check_fence()
    assert agent.driver.poll(job.driver_job_id).state is JobState.FAILED and agent.driver.leases() == []
    agent.step()  # back: reports the fenced job, fetches work again (the lease is still its own here)
    j = jobs.get_job(demo, tenant, job.id)
    assert j.state == "failed" and "fenced: cut off from the server for" in (j.reason or "")
    assert not agent.fenced and [g.lease_id for g in agent.driver.leases()] == [lease_id]


def test_a_report_the_server_refuses_for_one_job_does_not_hold_back_the_others(
        demo: Platform, tenant: Principal, site: tuple[TestClient, dict[str, Agent]]) -> None:
    _c, agents = site
    lease_id, agent, _other = lease_on_an_agent(demo, tenant, agents)
    agent.step()
    job = jobs.submit_job(demo, tenant, lease_id, ["true"], devices=1)
    agent.step()
    assert agent.driver.wait(job.driver_job_id, WAIT).state is JobState.COMPLETED
    # a job the server never gave this node (e.g. its database was restored from before it)
    stray = agent.driver.submit(lease_id, spec_of({"command": ["true"], "devices": 1}, agent.node),
                                job_id="agj_00000000beef")
    assert agent.driver.wait(stray.job_id, WAIT).state is JobState.COMPLETED
    agent.step()  # refused: 404 naming the stray job, nothing of the report stored
    assert agent.state.refused.keys() == {"agj_00000000beef"}
    assert jobs.get_job(demo, tenant, job.id).state != "completed"
    agent.step()  # the rest goes through
    assert jobs.get_job(demo, tenant, job.id).state == "completed"
    assert agent.pending_report() == {"jobs": [], "usage": [], "logs": []}


def test_a_revoked_agent_fences_its_jobs(demo: Platform, tenant: Principal, operator: Principal,
                                         site: tuple[TestClient, dict[str, Agent]]) -> None:
    c, agents = site
    lease_id, agent, _other = lease_on_an_agent(demo, tenant, agents)
    agent.step()
    job = jobs.submit_job(demo, tenant, lease_id, ["sleep", "60"], devices=1)
    agent.step()
    assert wait_for(lambda: agent.driver.poll(job.driver_job_id).state is JobState.RUNNING)
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    assert c.post(f"/v1/agents/{agent.node}/revoke", headers=op).status_code == 200
    agent.step()  # 401: its credential is refused; not retried, nothing it can do
    mono = agent._monotonic
    assert isinstance(mono, Mono)
    mono.t += agent.state.fence_s + 1
    agent.step()
    assert agent.check_fence()
    st = agent.driver.poll(job.driver_job_id)
    assert st.state is JobState.FAILED and (st.reason or "").startswith("fenced: ")

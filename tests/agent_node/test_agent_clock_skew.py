"""An agent node whose clock is an hour behind the server's still runs a lease that started on the
server's clock: the agent's engine runs on the server's time (offset from each answer's
``server_time``). Without that, the lease "has not started" on the node and every job is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanli.agent.clock import ServerClock
from suanli.agent.loop import Agent, AgentConfig
from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.drivers.base import JobState
from suanli.service import accounts, engine, jobs, leases, orders
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NODES = ("sh-a800-01", "sh-a800-02")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))  # the server: an hour ahead


@pytest.fixture
def agents_of(demo: Platform, operator: Principal, tmp_path: Path) -> Iterator[dict[str, Agent]]:
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    with TestClient(create_app(demo)) as c:
        out = {}
        for node in NODES:
            token = c.post("/v1/agents/join-tokens", json={"node": node, "approve": True}, headers=op).json()["token"]
            out[node] = Agent.from_config(AgentConfig(server="http://testserver", node=node, state_dir=tmp_path / node,
                                                      join_token=token, backend="none", devices=8, kill_grace_s=0.5),
                                          http=c, sleep=lambda s: None)
            out[node].step()
        demo.agent_nodes_changed()
        yield out


def test_the_agent_runs_on_the_servers_time(demo: Platform, tenant: Principal, clock: FakeClock,
                                            agents_of: dict[str, Agent]) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["A800"]})
    assert res.order.lease_id
    engine.reconcile_leases(demo)
    lease, _ = leases.get_lease(demo, tenant, res.order.lease_id)
    agent = agents_of[lease.allocations[0].node]
    assert isinstance(agent.clock, ServerClock)
    # the fake server clock stands still while the test runs: the offset is a little under an hour
    assert timedelta(minutes=55) <= agent.clock.offset <= timedelta(hours=1, seconds=1)
    job = jobs.submit_job(demo, tenant, lease.id, ["true"], devices=1)
    agent.step()
    assert agent.driver.wait(job.driver_job_id, 20).state is JobState.COMPLETED
    agent.step()
    done = jobs.get_job(demo, tenant, job.id)
    assert done.state == "completed" and done.started_at is not None
    assert abs(done.started_at - clock.now()) <= timedelta(seconds=5)  # stamped on the server's time


def test_server_clock_offset() -> None:
    c = ServerClock()
    local = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    c.observe(local + timedelta(seconds=3600, milliseconds=-400), rtt_ms=800, local=local)
    assert c.offset == timedelta(hours=1)
    c.observe(local - timedelta(seconds=5), rtt_ms=None, local=local)
    assert c.offset == timedelta(seconds=-5)

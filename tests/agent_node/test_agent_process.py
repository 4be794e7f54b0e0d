"""The node agent against a real HTTP server (uvicorn on 127.0.0.1, the background passes on), on
the real clock with the tests' small timings (heartbeat 0.2 s, suspect 0.6 s, down 2 s, fence 1.2 s,
kill grace 0.5 s). Waits are on conditions, each with a bound.

- Fencing: the server is stopped; past fence_s the agent stops its running job; when the server is
  back the job is reported ``failed`` with "fenced: cut off from the server for N s".
- Restart: a real ``suanli agent run`` process is killed with SIGKILL and started again with the
  same state directory: it keeps its credential (no join token the second time), re-attaches to the
  job still running (a cancel after the restart reaches it) and loses no report (a job that ended
  while the agent was dead is reported ``lost``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from suanli.agent.loop import Agent, AgentConfig
from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.domain.demo import demo_fleet
from suanli.drivers.base import JobState
from suanli.drivers.local import _group_alive as group_alive
from suanli.service import accounts, agents, fleet, jobs, leases, orders
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.factories import make_tenant

NODE = "sh-a800-01"
WAIT = 30.0
SUANLI = str(Path(sys.executable).with_name("suanli"))


def wait_for(pred: Callable[[], object], timeout: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    assert pred(), f"not within {timeout} s: {what}"


class Server:
    """``suanli serve``'s app on a fixed port; stop and start it again."""

    def __init__(self, p: Platform) -> None:
        self.p = p
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        cfg = uvicorn.Config(create_app(self.p, tick_seconds=0.2), host="127.0.0.1", port=self.port,
                             log_level="warning", lifespan="on")
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server is not None and self._server.started, what="server started")

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(WAIT)


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Platform, Server, Principal, Principal]]:
    """The server; ``@pytest.mark.parametrize("world", [(down_s, fence_s)], indirect=True)`` sets them for a
    test that must not see the node go down meanwhile (default 2 s and 1.2 s)."""
    down, fence = getattr(request, "param", (2.0, 1.2))
    settings = Settings(data_dir=tmp_path / "data", agent_heartbeat_s=0.2, agent_suspect_s=0.6, agent_down_s=down,
                        agent_fence_s=fence, agent_kill_grace_s=0.5)
    p = Platform(settings)
    token = accounts.bootstrap_operator(p)
    assert token is not None
    operator = accounts.authenticate(p, token)
    fleet.import_fleet(p, operator, demo_fleet())
    tenant = make_tenant(p, operator, "acme")
    server = Server(p)
    server.start()
    try:
        yield p, server, operator, tenant
    finally:
        server.stop()
        p.close()


def node_available(p: Platform, operator: Principal) -> bool:
    """Until its agent joined, the health pass marks the node down ("agent not joined"); the pass after
    its first heartbeats restores it."""
    return any(n["name"] == NODE and n["state"] == "available" for n in fleet.list_nodes(p, operator))


def lease_on(p: Platform, tenant: Principal) -> str:
    """A lease holding NODE whole (the demo has two A800 nodes of 8: if the first lands on the other
    one, the next lands on NODE)."""
    res = orders.create_order(p, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"]})
    lease_id = res.order.lease_id
    assert lease_id
    lease, _ = leases.get_lease(p, tenant, lease_id)
    if lease.allocations[0].node != NODE:
        return lease_on(p, tenant)  # that one holds the other node whole; the next lands on NODE
    return lease_id


def job_state(p: Platform, tenant: Principal, job_id: str) -> str:
    return jobs.get_job(p, tenant, job_id).state


# fence_s 1.2 s, but the node goes down only after 30 s: the server does not decide the job's end itself
# (node_fail) before the agent's fenced report arrives, however slow the restart on a busy machine
@pytest.mark.parametrize("world", [(30.0, 1.2)], indirect=True)
def test_cut_off_agent_fences_its_job_and_reports_it_when_the_server_is_back(
        world: tuple[Platform, Server, Principal, Principal], tmp_path: Path) -> None:
    p, server, operator, tenant = world
    token = agents.create_join_token(p, operator, NODE, approve=True).token
    agent = Agent.from_config(AgentConfig(server=server.url, node=NODE, state_dir=tmp_path / "agent",
                                          join_token=token, backend="none", devices=8, kill_grace_s=0.5))
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        wait_for(lambda: agent.server_state == "approved", what="agent approved")
        p.agent_nodes_changed()
        wait_for(lambda: node_available(p, operator), what="node restored")
        lease_id = lease_on(p, tenant)
        wait_for(lambda: [g.lease_id for g in agent.driver.leases()] == [lease_id], what="lease provisioned")
        job = jobs.submit_job(p, tenant, lease_id, ["sleep", "60"], devices=1)
        wait_for(lambda: job_state(p, tenant, job.id) == "running", what="job running, reported")
        server.stop()
        stopped = time.monotonic()
        wait_for(lambda: agent.driver.poll(job.driver_job_id).state is JobState.FAILED, what="job fenced")
        fenced = time.monotonic()
        took, unheard = fenced - stopped, fenced - agent.last_ok  # the fence counts from the last good call
        print(f"figure: job fenced {took:.2f} s after the server stopped, {unheard:.2f} s after the agent's "
              f"last successful call (fence_s 1.2, kill grace 0.5; agent RTT median {agent.rtt_ms()} ms)")
        assert unheard >= 1.2  # never before fence_s without a successful call (that call may precede the stop)
        assert took < 1.2 + 0.5 + 3.0  # within fence_s + kill grace + slack of the stop
        wait_for(lambda: agent.driver.leases() == [], what="leases released locally")
        assert agent.fenced
        server.start()
        wait_for(lambda: job_state(p, tenant, job.id) == "failed", what="fenced job reported")
        reason = jobs.get_job(p, tenant, job.id).reason
        assert reason.startswith("fenced: cut off from the server for "), reason
    finally:
        agent.stop()
        runner.join(WAIT)


@pytest.mark.parametrize("world", [(30.0, 29.2)], indirect=True)  # the restart is quicker than the grace
def test_killed_agent_restarts_with_its_credential_reattaches_and_loses_no_report(
        world: tuple[Platform, Server, Principal, Principal], tmp_path: Path) -> None:
    p, server, operator, tenant = world
    token = agents.create_join_token(p, operator, NODE, approve=True).token
    state_dir = tmp_path / "agent"
    argv = [SUANLI, "--server", server.url, "agent", "run", "--node", NODE, "--state-dir", str(state_dir),
            "--backend", "none", "--devices", "8", "--kill-grace", "0.5", "--sandbox", "on"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    first = subprocess.Popen([*argv, "--join-token", token], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: (state_dir / "state.json").exists()
                 and json.loads((state_dir / "state.json").read_text()).get("credential"), what="joined")
        credential = json.loads((state_dir / "state.json").read_text())["credential"]
        p.agent_nodes_changed()
        wait_for(lambda: node_available(p, operator), what="node restored")
        lease_id = lease_on(p, tenant)
        long = jobs.submit_job(p, tenant, lease_id, ["sleep", "60"], devices=1)
        short = jobs.submit_job(p, tenant, lease_id, ["sh", "-c", "sleep 2; echo done"], devices=1)
        wait_for(lambda: job_state(p, tenant, long.id) == "running" and job_state(p, tenant, short.id) == "running",
                 what="both jobs running")
        first.send_signal(signal.SIGKILL)
        first.wait(WAIT)
        # the short job ends while its agent is dead
        acct = (state_dir / "engine" / "accounting.jsonl").read_text().splitlines()
        pgid = next(json.loads(x)["pgid"] for x in acct if short.driver_job_id in x)
        wait_for(lambda: not Path(f"/proc/{pgid}").exists(), what="short job ended")
        second = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # no token
        wait_for(lambda: job_state(p, tenant, short.id) == "lost", what="the end while dead reported")
        assert json.loads((state_dir / "state.json").read_text())["credential"] == credential
        assert job_state(p, tenant, long.id) == "running"  # re-attached, not lost
        jobs.cancel_job(p, tenant, long.id)
        wait_for(lambda: job_state(p, tenant, long.id) == "cancelled", what="cancel after the restart")
        assert second.poll() is None
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(WAIT)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_a_killed_agents_job_is_fenced_by_its_keeper(world: tuple[Platform, Server, Principal, Principal],
                                                     tmp_path: Path) -> None:
    """SIGKILL leaves the agent no chance to fence; its keeper (own session) stops the job past fence_s,
    before the server marks the node down (down_s 2 s) and re-places the lease."""
    p, server, operator, tenant = world
    token = agents.create_join_token(p, operator, NODE, approve=True).token
    state_dir = tmp_path / "agent"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    agent = subprocess.Popen([SUANLI, "--server", server.url, "agent", "run", "--node", NODE, "--state-dir",
                              str(state_dir), "--backend", "none", "--devices", "8", "--kill-grace", "0.5",
                              "--join-token", token], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (state_dir / "fence.json").exists(), what="agent started")
        p.agent_nodes_changed()
        wait_for(lambda: node_available(p, operator), what="node restored")
        lease_id = lease_on(p, tenant)
        job = jobs.submit_job(p, tenant, lease_id, ["sleep", "60"], devices=1)
        wait_for(lambda: job_state(p, tenant, job.id) == "running", what="job running")
        acct = (state_dir / "engine" / "accounting.jsonl").read_text().splitlines()
        pgid = next(json.loads(x)["pgid"] for x in acct if job.driver_job_id in x)
        agent.send_signal(signal.SIGKILL)
        agent.wait(WAIT)
        killed = time.monotonic()
        # stopped = no live process left in its group (a zombie waits for whoever adopted it to reap it)
        wait_for(lambda: not group_alive(pgid), timeout=1.2 + 0.5 + 3.0, what="job stopped by the keeper")
        last_ok = json.loads((state_dir / "fence.json").read_text())["last_ok"]
        print(f"figure: a SIGKILLed agent's job stopped {time.monotonic() - killed:.2f} s after the kill, "
              f"{time.monotonic() - last_ok:.2f} s after its last successful call (fence_s 1.2, kill grace 0.5, "
              "down_s 2)")

        def ends() -> list[dict[str, object]]:
            return [json.loads(x) for x in (state_dir / "engine" / "accounting.jsonl").read_text().splitlines()
                    if '"end"' in x and job.driver_job_id in x]

        wait_for(ends, what="the keeper's end record")
        (end,) = ends()
        assert end["state"] == "failed" and str(end["reason"]).startswith("fenced: cut off"), end
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(WAIT)

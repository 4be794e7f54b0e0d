"""Agent nodes through the service layer: the agent driver over the tables, the work list, reports,
and node health through the existing health reconciler (FakeClock; the agents are played by the
test through the service calls their HTTP routes make)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.agents import AgentNode
from suanli.domain.audit import AuditFilter
from suanli.domain.leases import LeaseState
from suanli.drivers.base import DeviceAllocation, JobSpec, JobState, LeaseGrant, NodeState
from suanli.drivers.local import LocalDriver
from suanli.drivers.routed import RoutedDriver
from suanli.errors import ConflictError, EngineError, NotFoundError, ValidationError
from suanli.service import agents, engine, health, jobs, leases, orders
from suanli.service.agent_driver import AgentDriver
from suanli.service.agent_work import JobReport, LogReport, UsageReport, ingest_report, work_list
from suanli.service.platform import Platform
from suanli.store import agent_work as work_store
from suanli.store import audit as audit_store
from suanli.store import engine as engine_store
from suanli.testing.clock import FakeClock

NODES = ("sh-a800-01", "sh-a800-02")


class Agent:
    """One node's agent as the server sees it: joined, approved, heartbeating through the service."""

    def __init__(self, p: Platform, operator: Principal, node: str) -> None:
        self.p, self.node = p, node
        token = agents.create_join_token(p, operator, node, approve=True)
        joined = agents.join(p, token=token.token, node=node, agent_id=f"install-{node}", boot_id="boot-1",
                             version="0.1", backend="none",
                             devices=[{"index": i, "name": "A800", "uuid": f"{node}-{i}"} for i in range(8)],
                             address="127.0.0.1")
        self.credential = joined.credential

    @property
    def me(self) -> AgentNode:
        return agents.authenticate(self.p, self.credential, self.node)

    def beat(self) -> int:
        return agents.heartbeat(self.p, self.me, boot_id="boot-1", rtt_ms=Decimal("1.5"), devices=[],
                                address="127.0.0.1").work

    def work(self):  # type: ignore[no-untyped-def]
        return work_list(self.p, self.me)


@pytest.fixture
def fleet_agents(demo: Platform, operator: Principal) -> dict[str, Agent]:
    out = {n: Agent(demo, operator, n) for n in NODES}
    for a in out.values():
        a.beat()
    return out


def a800_lease(p: Platform, who: Principal, n: int = 4) -> str:
    res = orders.create_order(p, who, {"form": "gpu", "quantity": n, "models": ["A800"]})
    assert res.order.lease_id
    return res.order.lease_id


def test_the_platform_routes_agent_nodes_to_the_agent_driver(demo: Platform, operator: Principal) -> None:
    assert isinstance(demo.driver, LocalDriver)  # no agent anywhere: the engine of settings, as it was
    Agent(demo, operator, NODES[0])
    routed = demo.driver
    assert isinstance(routed, RoutedDriver) and routed.name == "local"
    assert routed.is_agent_node(NODES[0]) and not routed.is_agent_node(NODES[1])
    assert routed.sandbox is routed.primary.sandbox  # type: ignore[union-attr]
    assert demo.driver is routed  # kept while the agent nodes stay the same


def test_lease_job_report_usage_on_an_agent_node(demo: Platform, tenant: Principal, clock: FakeClock,
                                                 fleet_agents: dict[str, Agent]) -> None:
    lease_id = a800_lease(demo, tenant)
    lease, _ = leases.get_lease(demo, tenant, lease_id)
    node = lease.allocations[0].node
    agent = fleet_agents[node]
    assert agent.work().leases == []  # not provisioned yet
    assert [a.outcome for a in engine.reconcile_leases(demo)] == ["done"]
    w = agent.work()
    assert [x["lease_id"] for x in w.leases] == [lease_id]
    assert [a["node"] for a in w.leases[0]["grant"]["allocations"]] == [node]
    assert w.generation == agent.beat() != 0
    other = fleet_agents[next(n for n in NODES if n != node)]
    assert other.work().leases == [] and other.beat() == 0

    job = jobs.submit_job(demo, tenant, lease_id, ["python3", "train.py"], devices=2, env={"SEED": "7"})
    assert job.driver == "local" and job.driver_job_id.startswith("agj_") and job.node == node
    w2 = agent.work()
    assert w2.generation != w.generation
    (queued,) = w2.jobs
    assert queued["job_id"] == job.driver_job_id and queued["cancel"] is False
    assert queued["spec"]["command"] == ["python3", "train.py"] and queued["spec"]["devices"] == 2
    assert queued["spec"]["env"] == {"SEED": "7"}

    start = clock.now()
    ingest_report(demo, agent.me, jobs=[JobReport(job.driver_job_id, JobState.RUNNING, start=start,
                                                  device_indices=(0, 1))])
    assert jobs.get_job(demo, tenant, job.id).state == "running"
    clock.advance(100)
    end = clock.now()
    done = JobReport(job.driver_job_id, JobState.COMPLETED, start=start, end=end, exit_code=0, device_indices=(0, 1))
    used = UsageReport(job.driver_job_id, lease_id, (0, 1), 2, start, end, JobState.COMPLETED, 0, Decimal(200))
    logs = LogReport(job.driver_job_id, "epoch 1\n", "warning\n")
    first = ingest_report(demo, agent.me, jobs=[done], usage=[used], logs=[logs])
    again = ingest_report(demo, agent.me, jobs=[done], usage=[used], logs=[logs])
    assert (first.jobs, first.usage_new) == (1, 1) and (again.jobs, again.usage_new) == (0, 0)
    late = JobReport(job.driver_job_id, JobState.RUNNING, start=start)  # a terminal state never regresses
    assert ingest_report(demo, agent.me, jobs=[late]).jobs == 0
    assert agent.work().jobs == []  # finished: off the work list
    assert jobs.job_logs(demo, tenant, job.id) == "epoch 1\n--- stderr ---\nwarning\n"
    assert jobs.collect_usage(demo) == 1
    assert jobs.collect_usage(demo) == 0  # stored once, read once
    row = jobs.get_job(demo, tenant, job.id)
    assert row.state == "completed" and row.device_seconds == 200 and row.exit_code == 0


def test_a_failed_jobs_reason_survives_the_background_pass(demo: Platform, tenant: Principal, clock: FakeClock,
                                                           fleet_agents: dict[str, Agent]) -> None:
    """The usage record (state and exit code, no reason) must not end the job's row before the poll has
    stored the engine's word: the row would then be terminal with an empty reason, and never polled again."""
    lease_id = a800_lease(demo, tenant)
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    engine.reconcile_leases(demo)
    job = jobs.submit_job(demo, tenant, lease_id, ["sleep", "60"], devices=1)
    start = clock.now()
    ingest_report(demo, fleet_agents[node].me, jobs=[JobReport(job.driver_job_id, JobState.RUNNING, start=start,
                                                               device_indices=(0,))])
    jobs.record_job_states(demo)
    clock.advance(5)
    end = clock.now()
    why = "fenced: cut off from the server for 1 s"
    ingest_report(demo, fleet_agents[node].me,
                  jobs=[JobReport(job.driver_job_id, JobState.FAILED, start=start, end=end, reason=why,
                                  device_indices=(0,))],
                  usage=[UsageReport(job.driver_job_id, lease_id, (0,), 1, start, end, JobState.FAILED, None,
                                     Decimal(5))])
    assert jobs.collect_usage(demo) == 1  # the background pass's order: usage first, then the states
    jobs.record_job_states(demo)
    row = jobs.get_job(demo, tenant, job.id)
    assert (row.state, row.reason, row.device_seconds) == ("failed", why, 5)
    with demo.tx() as s:  # stored, not only polled: a terminal row is never polled again
        stored = engine_store.job_by_engine_id(s, "local", job.driver_job_id)
    assert stored is not None and (stored.state, stored.reason) == ("failed", why)


def test_a_report_of_a_job_the_node_does_not_hold_stores_nothing(demo: Platform, tenant: Principal,
                                                                 clock: FakeClock,
                                                                 fleet_agents: dict[str, Agent]) -> None:
    lease_id = a800_lease(demo, tenant)
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    engine.reconcile_leases(demo)
    job = jobs.submit_job(demo, tenant, lease_id, ["true"], devices=1)
    mine, other = fleet_agents[node], fleet_agents[next(n for n in NODES if n != node)]
    now = clock.now()
    ok = JobReport(job.driver_job_id, JobState.RUNNING, start=now)
    # the other node reports this node's job (and a made-up one): 404 naming it, audited, nothing stored
    with pytest.raises(NotFoundError, match=f"node {other.node} holds no job '{job.driver_job_id}'"):
        ingest_report(demo, other.me, jobs=[ok])
    with pytest.raises(NotFoundError, match="holds no job 'agj_000000000000'"):
        ingest_report(demo, mine.me, jobs=[ok, JobReport("agj_000000000000", JobState.RUNNING, start=now)])
    assert jobs.get_job(demo, tenant, job.id).state == "pending"
    # usage beyond what the job could have used: 422 naming the field
    clock.advance(10)
    big = UsageReport(job.driver_job_id, lease_id, (0,), 1, now, clock.now(), JobState.COMPLETED, 0, Decimal(11))
    with pytest.raises(ValidationError, match=r"11 device-seconds is impossible; allowed: 0 to 10"):
        ingest_report(demo, mine.me, usage=[big])
    two = UsageReport(job.driver_job_id, lease_id, (0, 1), 2, now, clock.now(), JobState.COMPLETED, 0, Decimal(20))
    with pytest.raises(ValidationError, match="allowed: 0 to the job's 1"):
        ingest_report(demo, mine.me, usage=[two])
    with pytest.raises(ValidationError, match="allowed: a tail of at most 65536 bytes"):
        ingest_report(demo, mine.me, logs=[LogReport(job.driver_job_id, "x" * 65537)])
    with demo.tx() as s:
        assert work_store.usage_since(s, now - timedelta(days=1)) == []
        refusals = audit_store.list_events(s, AuditFilter(object_type="agent_refusals"))
    reasons = [str(e.changes) for e in refusals]
    assert any("holds no job" in r and other.node in r for r in reasons)
    assert any("device-seconds is impossible" in r for r in reasons)


def test_a_silent_agent_is_suspect_then_down_its_lease_moves_and_comes_back(
        demo: Platform, tenant: Principal, clock: FakeClock, fleet_agents: dict[str, Agent]) -> None:
    cfg = demo.settings
    lease_id = a800_lease(demo, tenant)
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    silent, alive = fleet_agents[node], fleet_agents[next(n for n in NODES if n != node)]
    engine.reconcile_leases(demo)
    job = jobs.submit_job(demo, tenant, lease_id, ["sleep", "1000"], devices=4)
    start = clock.now()
    ingest_report(demo, silent.me, jobs=[JobReport(job.driver_job_id, JobState.RUNNING, start=start,
                                                   device_indices=(0, 1, 2, 3))])
    # past the suspect time: the node still counts as up, with the reason
    clock.advance(cfg.agent_suspect_s + 1)
    alive.beat()
    by_node = {h.node: h for h in demo.driver.node_health()}  # type: ignore[union-attr]
    assert by_node[node].state is NodeState.UP and by_node[node].reason.startswith("suspect: no heartbeat for")
    report = health.check_health(demo)
    assert report.nodes_down == [] and report.interrupted == []
    # past the grace: down, interrupted with an SLA credit, re-placed on the node whose agent is alive
    clock.advance(cfg.agent_down_s - cfg.agent_suspect_s)
    alive.beat()
    report = health.check_health(demo)
    assert report.nodes_down == [node] and report.interrupted == [lease_id] and report.replaced == [lease_id]
    after, events = leases.get_lease(demo, tenant, lease_id)
    assert after.state is LeaseState.ACTIVE
    assert {a.node for a in after.allocations if a.end is None} == {alive.node}
    assert "agent: no heartbeat for" in events[-2]["reason"]
    with demo.tx() as s:
        (credit,) = engine_store.sla_credits(s, lease_id=lease_id)
    assert credit.amount == 4 * Decimal("6.50")  # the 1-hour minimum credit, as for any node failure
    # the re-placed lease is on the live node's work list; gone from the silent node's, whose job is to stop
    assert [x["lease_id"] for x in alive.work().leases] == [lease_id]
    old = silent.work()
    assert old.leases == [] and [(j["job_id"], j["cancel"]) for j in old.jobs] == [(job.driver_job_id, True)]
    assert jobs.get_job(demo, tenant, job.id).state == "node_fail"  # the engine's word: the node is down
    # the agent returns: it reports the job it fenced (twice: the first answer was lost), the node is back
    clock.advance(5)
    fenced = JobReport(job.driver_job_id, JobState.FAILED, start=start, end=clock.now(),
                       reason="fenced: cut off from the server for 20 s")
    used = UsageReport(job.driver_job_id, lease_id, (0, 1, 2, 3), 4, start, start + timedelta(seconds=21),
                       JobState.FAILED, None, Decimal(84))
    assert ingest_report(demo, silent.me, jobs=[fenced], usage=[used]).usage_new == 1
    assert ingest_report(demo, silent.me, jobs=[fenced], usage=[used]).usage_new == 0
    assert silent.beat() == 0 and silent.work().jobs == []  # nothing left for it: the lease stays released
    assert health.check_health(demo).nodes_restored == [node]
    with demo.tx() as s:
        assert len([u for u in work_store.usage_since(s, start) if u.job_id == job.driver_job_id]) == 1


def test_the_agent_driver_keeps_the_driver_contract(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    node = NODES[0]
    agents.create_join_token(demo, operator, node)  # an agent node whose agent has not joined yet
    driver = AgentDriver(demo)
    grant = LeaseGrant("lease-x", "acme", clock.now(), clock.now() + timedelta(hours=2),
                       (DeviceAllocation(node, (2, 3), (1000, 1000)),))
    assert driver.provision(grant).created and not driver.provision(grant).created
    moved = LeaseGrant("lease-x", "acme", clock.now(), clock.now() + timedelta(hours=2),
                       (DeviceAllocation(node, (4, 5), (1000, 1000)),))
    with pytest.raises(ConflictError, match="already provisioned with a different grant"):
        driver.provision(moved)
    with pytest.raises(ConflictError, match=f"node {node} is down \\(agent not joined\\)"):
        driver.submit("lease-x", JobSpec(command=("true",)))
    with pytest.raises(ValidationError, match="holds 2 device"):
        driver.submit("lease-x", JobSpec(command=("true",), devices=3))
    with pytest.raises(NotFoundError):
        driver.poll("agj_000000000000")
    (h,) = [h for h in driver.node_health() if h.node == node]
    assert h.state is NodeState.DOWN and h.reason == "agent not joined"
    driver.release("lease-x")
    driver.release("lease-x")  # idempotent
    with pytest.raises(EngineError, match="not provisioned on any agent node"):
        driver.submit("lease-x", JobSpec(command=("true",)))
    assert driver.provision(moved).created  # released: it may be provisioned again, with another grant
    with demo.tx() as s:
        (row,) = work_store.leases_of(s, "lease-x")
    assert row.grant["allocations"][0]["device_indices"] == [4, 5] and not row.released


def test_provisioning_the_same_lease_at_once_creates_it_once(demo: Platform, operator: Principal,
                                                             clock: FakeClock) -> None:
    """The background pass and a job's submit may provision a lease at the same moment (PostgreSQL runs
    them in parallel): one creates it, the others find the same grant; no database error escapes."""
    import threading

    agents.create_join_token(demo, operator, NODES[0])
    driver = AgentDriver(demo)
    results: list[object] = []
    for round_ in range(5):
        grant = LeaseGrant(f"lease-race-{round_}", "acme", clock.now(), None,
                           (DeviceAllocation(NODES[0], (0,), (1000,)),))
        gate = threading.Barrier(6)

        def go(g: LeaseGrant = grant, b: threading.Barrier = gate) -> None:
            b.wait()
            try:
                results.append(driver.provision(g).created)
            except Exception as e:  # the test reports what escaped
                results.append(e)

        threads = [threading.Thread(target=go) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert [r for r in results if not isinstance(r, bool)] == []
    assert results.count(True) == 5 and results.count(False) == 25


def test_without_an_engine_of_its_own_agent_nodes_still_run_work(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """driver=none: leases stay bookkeeping only on the other nodes, and run on agent nodes."""
    from suanli.domain.demo import demo_fleet
    from suanli.service import accounts, fleet
    from suanli.settings import Settings
    from suanli.testing.factories import make_tenant

    p = Platform(Settings(data_dir=tmp_path / "none", database_url=None, driver="none"), clock=clock)
    try:
        op = accounts.authenticate(p, accounts.bootstrap_operator(p) or "")
        fleet.import_fleet(p, op, demo_fleet())
        who = make_tenant(p, op, "acme")
        assert p.driver is None
        a = {n: Agent(p, op, n) for n in NODES}
        for x in a.values():
            x.beat()
        assert p.driver is not None and p.driver.name == "agent"
        elsewhere = orders.create_order(p, who, {"form": "gpu", "quantity": 1, "models": ["H800"]}).order.lease_id
        here = a800_lease(p, who, 2)
        assert elsewhere and {x.outcome for x in engine.reconcile_leases(p)} == {"done"}
        job = jobs.submit_job(p, who, here, ["true"])
        node = leases.get_lease(p, who, here)[0].allocations[0].node
        assert job.driver == "agent" and [j["job_id"] for j in a[node].work().jobs] == [job.driver_job_id]
        with pytest.raises(EngineError, match="runs no engine of its own"):
            jobs.submit_job(p, who, elsewhere, ["true"])
    finally:
        p.close()

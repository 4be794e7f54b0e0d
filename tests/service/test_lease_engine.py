"""Leases on an execution engine, through the service layer.

The local driver runs real processes; the clock is the test's (the driver reads the same clock,
so job start/end and device-seconds are exact). A job that must run "for a while" waits for a
file the test creates after moving the clock.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.leases import LeaseState
from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.errors import CapacityError, ConflictError, EngineError, NotFoundError, ValidationError
from suanli.service import billing, engine, health, jobs, leases, orders, usage
from suanli.service.platform import Platform
from suanli.store import engine as engine_store
from suanli.testing.clock import FakeClock as Clock
from suanli.testing.factories import make_tenant
from suanli.testing.fake_driver import DEFAULT, DriverCall, FakeDriver

# jobs run sandboxed: a system interpreter, and a flag file in the job's own /work (the test writes it there)
WAIT_FOR = ["python3", "-c", "import os, pathlib, sys, time\n"
            "p = pathlib.Path(sys.argv[1])\n"
            "while not p.exists(): time.sleep(0.01)\n"
            "print(os.environ.get('CUDA_VISIBLE_DEVICES'))"]


def local(p: Platform) -> LocalDriver:
    assert isinstance(p.driver, LocalDriver)
    return p.driver


def gpu_lease(p: Platform, who: Principal, n: int = 2, model: str = "H800") -> str:
    res = orders.create_order(p, who, {"form": "gpu", "quantity": n, "models": [model]})
    assert res.order.lease_id
    return res.order.lease_id


def test_job_runs_on_the_leases_devices_and_usage_comes_back(demo: Platform, tenant: Principal, clock: Clock,
                                                             tmp_path: Path) -> None:
    lease_id = gpu_lease(demo, tenant, 2)
    lease, _ = leases.get_lease(demo, tenant, lease_id)
    job = jobs.submit_job(demo, tenant, lease_id, [*WAIT_FOR, "/work/go"])
    assert jobs.get_job(demo, tenant, job.id).state in ("pending", "running")
    clock.advance(30)
    (local(demo).data_dir / "jobs" / job.driver_job_id / "work" / "go").touch()
    assert local(demo).wait(job.driver_job_id, 30).state is JobState.COMPLETED
    expected = ",".join(str(a.slot) for a in lease.allocations)
    assert jobs.job_logs(demo, tenant, job.id).strip().splitlines()[-1] == expected
    assert jobs.collect_usage(demo) == 1
    done = jobs.get_job(demo, tenant, job.id)
    assert done.state == "completed" and done.exit_code == 0 and done.device_seconds == 60
    clock.advance(30)
    held = jobs.lease_usage(demo, tenant, lease_id)
    assert held["allocated_device_seconds"] == 120 and held["used_device_seconds"] == 60
    assert jobs.collect_usage(demo) == 0  # read once, never twice
    # the job's usage sits in the usage store, once, next to the billed lease time, and is not charged
    rows = usage.usage_summary(demo, tenant, source="engine:local")
    assert [(r["meter"], r["model"], r["quantity"], r["events"]) for r in rows] == [
        ("job_device_seconds", "H800", Decimal(60), 1)]
    lines = billing.preview(demo, tenant, "2026-11").rated.lines
    assert lines and {line.meter.value for line in lines} == {"device_seconds"}


def test_ending_the_lease_stops_its_jobs_and_releases_the_engine(demo: Platform, tenant: Principal,
                                                                 tmp_path: Path) -> None:
    lease_id = gpu_lease(demo, tenant, 1)
    job = jobs.submit_job(demo, tenant, lease_id, [*WAIT_FOR, "/work/never"])
    leases.end_lease(demo, tenant, lease_id)
    acts = engine.reconcile_leases(demo)
    assert [(a.lease_id, a.verb, a.outcome) for a in acts] == [(lease_id, "release", "done")]
    assert local(demo).wait(job.driver_job_id, 30).state is JobState.CANCELLED
    with pytest.raises(ConflictError, match="is ended; jobs run only on an active lease"):
        jobs.submit_job(demo, tenant, lease_id, ["true"])


def test_jobs_outside_the_lease_are_refused(demo: Platform, tenant: Principal, operator: Principal) -> None:
    lease_id = gpu_lease(demo, tenant, 2)
    other = make_tenant(demo, operator, "beta")
    with pytest.raises(NotFoundError):
        jobs.submit_job(demo, other, lease_id, ["true"])
    with pytest.raises(ValidationError, match=lease_id):
        jobs.submit_job(demo, tenant, lease_id, ["true"], devices=3)
    with pytest.raises(ValidationError, match="holds no devices on node"):
        jobs.submit_job(demo, tenant, lease_id, ["true"], node="sz-l20-01")
    assert jobs.list_jobs(demo, tenant) == []


def test_node_failure_interrupts_replaces_and_credits(demo: Platform, tenant: Principal, clock: Clock,
                                                      tmp_path: Path) -> None:
    lease_id = gpu_lease(demo, tenant, 4, "A800")
    before = leases.get_lease(demo, tenant, lease_id)[0]
    node = before.allocations[0].node
    job = jobs.submit_job(demo, tenant, lease_id, [*WAIT_FOR, "/work/never"])
    clock.advance(600)
    local(demo).fail_node(node, "GPU fell off the bus (Xid 79)")
    assert local(demo).wait(job.driver_job_id, 30).state is JobState.NODE_FAIL
    clock.advance(5)
    report = health.check_health(demo)
    assert report.nodes_down == [node] and report.interrupted == [lease_id] and report.replaced == [lease_id]
    after, events = leases.get_lease(demo, tenant, lease_id)
    assert after.state is LeaseState.ACTIVE
    current = [a for a in after.allocations if a.end is None]
    assert len(current) == 4 and {a.node for a in current} != {node}
    assert [e["to"] for e in events][-2:] == ["interrupted", "active"]
    assert "Xid 79" in events[-2]["reason"]
    with demo.tx() as s:
        (credit,) = engine_store.sla_credits(s, lease_id=lease_id)
        assert engine_store.mirror(s, lease_id).state == "provisioned"  # type: ignore[union-attr]
    hourly = 4 * Decimal("6.50")
    assert credit.seconds == 0 and credit.amount == hourly  # the 1-hour minimum credit
    # the new devices run work; the failed node is not offered any more
    job2 = jobs.submit_job(demo, tenant, lease_id, ["true"])
    assert local(demo).wait(job2.driver_job_id, 30).state is JobState.COMPLETED
    with pytest.raises(CapacityError):
        orders.create_order(demo, tenant, {"form": "server", "models": ["A800"]})
    # the node comes back: the platform offers it again
    local(demo).restore_node(node)
    assert health.check_health(demo).nodes_restored == [node]


def test_unreachable_engine_leaves_lease_active_and_retries_with_backoff(platform: Platform, operator: Principal,
                                                                          clock: Clock) -> None:
    from suanli.domain.demo import demo_fleet
    from suanli.service import fleet

    down = {"engine": True}

    def handler(call: DriverCall) -> object:
        if call.method == "provision" and down["engine"]:
            raise EngineError("slurmctld: Unable to contact slurm controller", retryable=True)
        return DEFAULT

    platform.driver = FakeDriver(handler, clock=clock)
    fleet.import_fleet(platform, operator, demo_fleet())
    who = make_tenant(platform, operator, "acme")
    lease_id = gpu_lease(platform, who, 1)
    with pytest.raises(EngineError, match="Unable to contact slurm controller"):
        jobs.submit_job(platform, who, lease_id, ["true"])
    assert leases.get_lease(platform, who, lease_id)[0].state is LeaseState.ACTIVE
    assert engine.reconcile_leases(platform) == []  # backing off: not due yet
    clock.advance(60)
    down["engine"] = False
    assert [a.outcome for a in engine.reconcile_leases(platform)] == ["done"]
    job = jobs.submit_job(platform, who, lease_id, ["true"])
    assert job.driver_job_id.startswith("fake-")
    _, events = leases.get_lease(platform, who, lease_id)
    assert any("could not provision (attempt 1)" in e["reason"] for e in events)


def test_a_spot_lease_is_ended_not_replaced_by_a_failure(demo: Platform, tenant: Principal, operator: Principal,
                                                          clock: Clock) -> None:
    from suanli.service import fleet, plans

    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "spot", "discount": "0.6",
                                       "effective_from": "2026-11-01T00:00:00Z"})
    lease_id = gpu_lease(demo, tenant, 2, "A800")
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    clock.advance(900)
    fleet.set_node_state(demo, operator, node, "down", "maintenance window overrun")
    report = health.check_health(demo)
    assert report.interrupted == [lease_id] and report.replaced == []
    lease, events = leases.get_lease(demo, tenant, lease_id)
    assert lease.state is LeaseState.ENDED and "spot" in events[-1]["reason"]
    assert [e["to"] for e in events][-2:] == ["interrupted", "ended"]
    with demo.tx() as s:
        assert engine_store.sla_credits(s, lease_id=lease_id) == []  # spot carries no SLA

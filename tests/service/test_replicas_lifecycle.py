"""Model replicas on the real local engine and sandbox: a tiny-gpt deployment becomes ready, its
runtime answers /health through the endpoint, a SIGKILLed runtime is replaced, scaling up and down
follows desired_replicas, and deleting the deployment ends its leases.

The background pass is driven by calling :func:`replicas.reconcile`; waits poll a condition with a
bound (the runtime is a real process). Time that matters to the autoscaler is the FakeClock's.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.inference import ReplicaState
from suanli.domain.leases import LeaseState
from suanli.drivers.local import LocalDriver
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import deployments, gateway_load, leases, replicas
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

BOUND_S = 60.0
DOC = {"name": "tiny", "model": "tiny-gpt", "kind": "generate", "shapes": [{"form": "slice", "model": "L20",
                                                                             "share": "0.25"}],
       "min_replicas": 1, "max_replicas": 3}


def until(p: Platform, what: Callable[[], bool], why: str, *, step_s: float = 0.0) -> None:
    """Run the replicas' pass until ``what`` holds (bounded); ``step_s``: move the clock this much
    before each pass (health checks of a ready replica are due every interval)."""
    deadline = time.monotonic() + BOUND_S
    while True:
        if step_s:
            assert isinstance(p.clock, FakeClock)
            p.clock.advance(step_s)
        replicas.reconcile(p)
        if what():
            return
        if time.monotonic() > deadline:
            seen = [(r.id, r.state.value, r.reason) for r in replicas_of(p)]
            raise AssertionError(f"not within {BOUND_S} s: {why}; replicas: {seen}")
        time.sleep(0.05)


def replicas_of(p: Platform) -> list[object]:
    from suanli.store import inference as store
    with p.read() as s:
        return [r for d in store.list_deployments(s, include_deleted=True) for r in store.list_replicas(s, d.id)]


def states(p: Platform, op: Principal, dep_id: str) -> list[ReplicaState]:
    return sorted(r.state for r in deployments.list_replicas(p, op, dep_id))


def pgid_of(p: Platform, driver_job_id: str) -> int:
    assert isinstance(p.driver, LocalDriver)
    for line in (p.driver.data_dir / "accounting.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev.get("event") == "start" and ev["job_id"] == driver_job_id:
            return int(ev["pgid"])
    raise AssertionError(f"no start event of {driver_job_id}")


def test_replica_lifecycle_on_the_local_engine(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    p = demo
    dep = deployments.create_deployment(p, operator, DOC)
    assert dep.public and dep.desired_replicas == 1
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY], "one ready replica")
    (r,) = deployments.list_replicas(p, operator, dep.id)
    assert r.endpoint.startswith("unix:") and r.endpoint.endswith("/work/runtime.sock")
    assert r.hardware == "L20" and r.lease_id and r.cold_start_ms is not None and r.cold_start_ms >= 0
    assert "cheapest per token" in r.reason or r.reason.startswith("ready")
    answer = replicas.health(r.endpoint)
    assert answer is not None and answer["status"] == "ok" and answer["model"] == "tiny"
    # the runtime dies (SIGKILL): the replica fails, its lease ends, a replacement becomes ready
    from suanli.store import engine as engine_store
    with p.read() as s:
        job = engine_store.get_job(s, r.job_id or "", tenant_id=None)
    os.killpg(pgid_of(p, job.driver_job_id), signal.SIGKILL)
    until(p, lambda: ReplicaState.READY in states(p, operator, dep.id)
          and r.id not in {x.id for x in deployments.list_replicas(p, operator, dep.id)}, "a replacement",
          step_s=p.settings.inference_health_interval_seconds)
    old = next(x for x in deployments.list_replicas(p, operator, dep.id, all_states=True) if x.id == r.id)
    assert old.state is ReplicaState.FAILED and ("runtime job" in old.reason or "health checks failed" in old.reason)
    house = next(a for a in __import__("suanli.service.accounts", fromlist=["x"]).list_accounts(p, operator)
                 if a.name == deployments.HOUSE_TENANT)
    lease, _ = leases.get_lease(p, operator, old.lease_id or "")
    assert lease.state is LeaseState.ENDED and lease.tenant_id == house.account_id
    # scale up to 2, then down to 1: the extra one drains (nothing in flight) and stops
    deployments.update_deployment(p, operator, dep.id, {"desired_replicas": 2})
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY] * 2, "two ready replicas")
    deployments.update_deployment(p, operator, dep.id, {"desired_replicas": 1})
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY], "back to one replica")
    stopped = [x for x in deployments.list_replicas(p, operator, dep.id, all_states=True)
               if x.state is ReplicaState.STOPPED]
    assert len(stopped) == 1 and stopped[0].reason == "scaled down"
    # delete: every replica stopped, every lease ended, the name free again
    live = deployments.list_replicas(p, operator, dep.id)
    gone = deployments.delete_deployment(p, operator, dep.id)
    assert gone.state.value == "deleted"
    assert deployments.list_replicas(p, operator, dep.id) == []
    for x in live:
        lease, _ = leases.get_lease(p, operator, x.lease_id or "")
        assert lease.state is LeaseState.ENDED
    assert all(d.id != dep.id for d in deployments.list_deployments(p, operator))
    again = deployments.create_deployment(p, operator, {**DOC, "min_replicas": 0, "max_replicas": 1})
    assert again.name == "tiny" and again.desired_replicas == 0


def test_checks_before_anything_is_written(demo: Platform, operator: Principal) -> None:
    p = demo
    acme = make_tenant(p, operator, "acme")
    bad = [
        ({**DOC, "shapes": [{"form": "slice", "model": "Z9000", "share": "0.5"}]}, "shapes[0].model"),
        ({**DOC, "shapes": [{"form": "slice", "model": "H20", "share": "0.5"}]}, "shapes[0].model"),
        ({**DOC, "shapes": [{"form": "gpu", "model": "L20", "quantity": 9}]}, "shapes[0]"),
        ({**DOC, "near": "mars-1"}, "shapes[0]"),
        ({**DOC, "max_replicas": 33}, "max_replicas"),
        ({**DOC, "public": True}, "public"),  # a tenant may not publish
    ]
    for doc, field in bad:
        with pytest.raises(ValidationError) as e:
            deployments.create_deployment(p, acme, doc)
        assert e.value.details.get("field") == field, (doc, e.value.message)
    assert deployments.list_deployments(p, operator) == []
    # a tenant's own deployment: private, owned by the tenant; another tenant sees neither it nor its replicas
    mine = deployments.create_deployment(p, acme, {**DOC, "min_replicas": 0})
    assert not mine.public and mine.owner_id == acme.tenant_id
    other = make_tenant(p, operator, "other")
    with pytest.raises(NotFoundError):
        deployments.get_deployment(p, other, mine.id)
    with pytest.raises(NotFoundError):
        deployments.update_deployment(p, other, mine.id, {"desired_replicas": 1})
    with pytest.raises(ValidationError) as e:
        deployments.update_deployment(p, acme, mine.id, {"desired_replicas": 4})
    assert e.value.details["field"] == "desired_replicas"
    with pytest.raises(ValidationError) as e:
        deployments.update_deployment(p, acme, mine.id, {"model": "x"})
    assert e.value.details["field"] == "model"
    pub = deployments.create_deployment(p, operator, {**DOC, "name": "shared", "min_replicas": 0})
    assert [d.id for d in deployments.list_deployments(p, other)] == [pub.id]
    with pytest.raises(NotFoundError):  # a tenant reads a public deployment but does not change it
        deployments.update_deployment(p, other, pub.id, {"desired_replicas": 1})
    supplier = __import__("suanli.service.accounts", fromlist=["x"]).create_account(
        p, operator, "sup", "supplier", "huadong-idc")[0]
    with pytest.raises(PermissionDeniedError):
        deployments.list_deployments(p, supplier)


def test_wake_raises_a_scaled_to_zero_deployment(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    p = demo
    dep = deployments.create_deployment(p, operator, {**DOC, "min_replicas": 0, "max_replicas": 2,
                                                      "idle_seconds": 60})
    assert dep.desired_replicas == 0
    replicas.wake(p, dep.id)
    assert deployments.get_deployment(p, operator, dep.id).desired_replicas == 1
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY], "woken replica ready")
    # no load: after the scale-down window and idle_seconds without requests it goes to zero
    clock.advance(61)
    replicas.reconcile(p)  # the window starts
    clock.advance(61)
    until(p, lambda: states(p, operator, dep.id) == [], "scaled to zero")
    assert deployments.get_deployment(p, operator, dep.id).desired_replicas == 0
    deployments.delete_deployment(p, operator, dep.id)


def test_load_scales_up_and_a_busy_replica_drains_before_it_stops(demo: Platform, operator: Principal,
                                                                   clock: FakeClock) -> None:
    p = demo
    dep = deployments.create_deployment(p, operator, {**DOC, "name": "loaded", "min_replicas": 1, "max_replicas": 2,
                                                      "target_inflight": 2})
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY], "one ready replica")
    (first,) = deployments.list_replicas(p, operator, dep.id)
    clock.advance(1)  # the second replica is the newer one
    for _ in range(3):  # 3 in flight / 2 per replica -> 2 replicas, at once
        gateway_load.begin(p, dep.id, first.id)
    replicas.reconcile(p)
    assert deployments.get_deployment(p, operator, dep.id).desired_replicas == 2
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY] * 2, "two ready replicas")
    second = next(r for r in deployments.list_replicas(p, operator, dep.id) if r.id != first.id)
    for _ in range(3):
        gateway_load.end(p, dep.id, first.id)
    gateway_load.begin(p, dep.id, second.id)  # one request still runs on the newer replica
    replicas.reconcile(p)  # the load (1) wants 1 replica: the window starts, nothing changes yet
    clock.advance(29)
    replicas.reconcile(p)
    assert deployments.get_deployment(p, operator, dep.id).desired_replicas == 2
    clock.advance(2)
    replicas.reconcile(p)  # 31 s below: scale down; the newest replica drains
    assert deployments.get_deployment(p, operator, dep.id).desired_replicas == 1
    assert {r.id: r.state for r in deployments.list_replicas(p, operator, dep.id)} == {
        first.id: ReplicaState.READY, second.id: ReplicaState.DRAINING}
    replicas.reconcile(p)  # still busy: it keeps draining
    assert {r.id: r.state for r in deployments.list_replicas(p, operator, dep.id)}[second.id] is ReplicaState.DRAINING
    gateway_load.end(p, dep.id, second.id)
    replicas.reconcile(p)
    assert [r.id for r in deployments.list_replicas(p, operator, dep.id)] == [first.id]
    deployments.delete_deployment(p, operator, dep.id)


def test_after_three_failures_in_a_row_the_next_replica_waits(demo: Platform, operator: Principal,
                                                              clock: FakeClock) -> None:
    p = demo
    dep = deployments.create_deployment(p, operator, {**DOC, "name": "flaky", "min_replicas": 0})
    from suanli.store import inference as store
    now = clock.now()
    with p.tx() as s:
        for i in range(3):
            r = store.create_replica(s, dep.id, now=now)
            store.update_replica(s, r.id, expect=[ReplicaState.PENDING], state=ReplicaState.FAILED,
                                 reason=f"runtime job failed, exit code {i}", stopped_at=now)
    clock.advance(1)
    replicas.wake(p, dep.id)
    replicas.reconcile(p)
    (waiting,) = deployments.list_replicas(p, operator, dep.id)
    assert waiting.state is ReplicaState.PENDING and waiting.lease_id is None
    assert waiting.reason.startswith("waiting: 3 replicas failed in a row (last: runtime job failed")
    clock.advance(60)
    until(p, lambda: states(p, operator, dep.id) == [ReplicaState.READY], "the replica after the back-off")
    deployments.delete_deployment(p, operator, dep.id)


def test_wake_on_the_leader_starts_the_replica_at_once(demo: Platform, operator: Principal) -> None:
    p = demo
    from suanli.service import leadership
    assert leadership.replica(p).run(lambda: True)  # this process leads the background work
    dep = deployments.create_deployment(p, operator, {**DOC, "name": "woken", "min_replicas": 0})
    replicas.wake(p, dep.id)  # no pass is run by the test: the wake itself starts the replica
    deadline = time.monotonic() + BOUND_S
    while states(p, operator, dep.id) != [ReplicaState.READY]:
        assert time.monotonic() < deadline, f"not ready within {BOUND_S} s: {states(p, operator, dep.id)}"
        time.sleep(0.05)
    deployments.delete_deployment(p, operator, dep.id)

"""A replica outlives a short control-plane outage but not a long one (SUANLI_INFERENCE_ORPHAN_SECONDS).

The real local engine and sandbox, a real tiny-gpt runtime. The replica gets ``--orphan-seconds`` and the
session's ``--tag`` in its argv; when nobody probes its ``/health`` for that long (the server is "gone":
the test stops running the reconciler) the runtime stops itself (exit status 3), and the reconciler,
back, finds the job ended, fails the replica, ends its lease and places a replacement that becomes ready.
The setting is validated against the probe period when the settings are made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from suanli.domain.demo import demo_fleet
from suanli.domain.inference import ReplicaState
from suanli.domain.leases import LeaseState
from suanli.errors import ValidationError
from suanli.service import accounts, deployments, fleet, leases, replicas
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.inference import runtime_pids
from suanli.testing.replicas import stop_all_replicas

BOUND_S = 60.0
ORPHAN_S = 2.0
DOC = {"name": "orphan-tiny", "model": "tiny-gpt", "kind": "generate",
       "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}], "min_replicas": 1, "max_replicas": 1}


@pytest.fixture
def quick(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    """A platform whose replicas stop after 2 s without a probe (probe period 0.2 s)."""
    p = Platform(Settings(data_dir=tmp_path / "data", database_url=db_url, inference_orphan_seconds=ORPHAN_S,
                          inference_health_interval_seconds=0.2, background_interval_seconds=0.2,
                          inference_replica_tag=os.environ.get("SUANLI_INFERENCE_REPLICA_TAG", "")), clock=clock)
    try:
        yield p
    finally:
        try:
            stop_all_replicas(p)
        finally:
            p.close()


def until(p: Platform, what: Callable[[], bool], why: str) -> None:
    """Run the replicas' pass (each one a probe: the clock, whole seconds, moves past the health interval)
    until ``what``."""
    assert isinstance(p.clock, FakeClock)
    deadline = time.monotonic() + BOUND_S
    while True:
        p.clock.advance(1)
        replicas.reconcile(p)
        if what():
            return
        assert time.monotonic() < deadline, f"not within {BOUND_S} s: {why}"
        time.sleep(0.05)  # the pass's period while the real runtime starts


def argv_of(pid: int) -> list[str]:
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def test_unprobed_replica_stops_itself_and_is_replaced(quick: Platform) -> None:
    p = quick
    token = accounts.bootstrap_operator(p)
    assert token is not None
    op = accounts.authenticate(p, token)
    fleet.import_fleet(p, op, demo_fleet())
    dep = deployments.create_deployment(p, op, DOC)

    def ready() -> list[object]:
        return [r for r in deployments.list_replicas(p, op, dep.id) if r.state is ReplicaState.READY]

    until(p, lambda: bool(ready()), "a ready replica")
    (first,) = deployments.list_replicas(p, op, dep.id)
    (pid,) = runtime_pids(DOC["name"])
    argv = argv_of(pid)
    assert argv[argv.index("--orphan-seconds") + 1] == "2"
    tag = p.settings.inference_replica_tag
    assert not tag or f"--tag={tag}" in argv
    # probed every 0.2 s for twice the orphan time: it keeps running
    end = time.monotonic() + 2 * ORPHAN_S
    while time.monotonic() < end:
        until(p, lambda: True, "a probe")
        time.sleep(0.2)
    assert runtime_pids(DOC["name"]) == [pid]
    assert [r.id for r in ready()] == [first.id]
    # the control plane is gone (no pass runs): the runtime stops on its own within the orphan time
    deadline = time.monotonic() + BOUND_S
    while runtime_pids(DOC["name"]):
        assert time.monotonic() < deadline, "the unprobed runtime is still running"
        time.sleep(0.1)  # polling a real process that is stopping, bounded
    # the control plane is back: job ended -> failed (lease ended) -> a replacement becomes ready
    until(p, lambda: any(r.id != first.id for r in ready()), "a replacement ready")
    old = next(r for r in deployments.list_replicas(p, op, dep.id, all_states=True) if r.id == first.id)
    assert old.state is ReplicaState.FAILED and "exit code 3" in old.reason, old.reason
    lease, _ = leases.get_lease(p, op, old.lease_id or "")
    assert lease.state is LeaseState.ENDED


def test_a_restart_shorter_than_the_orphan_time_keeps_the_replica(quick: Platform) -> None:
    p = quick
    token = accounts.bootstrap_operator(p)
    assert token is not None
    op = accounts.authenticate(p, token)
    fleet.import_fleet(p, op, demo_fleet())
    dep = deployments.create_deployment(p, op, DOC)
    until(p, lambda: [r.state for r in deployments.list_replicas(p, op, dep.id)] == [ReplicaState.READY],
          "a ready replica")
    (first,) = deployments.list_replicas(p, op, dep.id)
    (pid,) = runtime_pids(DOC["name"])
    p.close()  # the server stops; another process (a new platform: new driver, no memory) comes back at once
    again = Platform(p.settings, clock=p.clock)
    try:
        end = time.monotonic() + 2 * ORPHAN_S
        while time.monotonic() < end:  # its passes probe the replica it finds
            until(again, lambda: True, "a probe")
            time.sleep(0.2)
        assert [(r.id, r.state) for r in deployments.list_replicas(again, op, dep.id)] == [
            (first.id, ReplicaState.READY)]
        assert runtime_pids(DOC["name"]) == [pid]
        stop_all_replicas(again)
    finally:
        again.close()


@pytest.mark.parametrize("orphan, health, background, ok", [
    (120.0, 2.0, 5.0, True),      # the defaults
    (0.0, 2.0, 5.0, True),        # 0: never
    (50.0, 2.0, 5.0, True),       # exactly 10 x the background interval
    (49.0, 2.0, 5.0, False),      # the pass probes every 5 s: too close
    (30.0, 4.0, 1.0, False),      # the health interval 4 s: at least 40
])
def test_orphan_seconds_must_be_well_above_the_probe_period(tmp_path: Path, orphan: float, health: float,
                                                            background: float, ok: bool) -> None:
    def make() -> Settings:
        return Settings(data_dir=tmp_path, inference_orphan_seconds=orphan, inference_health_interval_seconds=health,
                        background_interval_seconds=background)
    if ok:
        assert make().inference_orphan_seconds == orphan
    else:
        with pytest.raises(ValidationError) as e:
            make()
        assert "SUANLI_INFERENCE_ORPHAN_SECONDS" in e.value.message and f"{10 * max(health, background):g}" \
            in e.value.message


def test_orphan_and_tag_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_INFERENCE_ORPHAN_SECONDS", raising=False)
    monkeypatch.delenv("SUANLI_INFERENCE_REPLICA_TAG", raising=False)
    s = Settings.from_env()
    assert s.inference_orphan_seconds == 120 and s.inference_replica_tag == ""
    monkeypatch.setenv("SUANLI_INFERENCE_ORPHAN_SECONDS", "0")
    monkeypatch.setenv("SUANLI_INFERENCE_REPLICA_TAG", "ci-42.a_b")
    s = Settings.from_env()
    assert s.inference_orphan_seconds == 0 and s.inference_replica_tag == "ci-42.a_b"
    for bad_var, bad in [("SUANLI_INFERENCE_ORPHAN_SECONDS", "-1"), ("SUANLI_INFERENCE_ORPHAN_SECONDS", "soon"),
                         ("SUANLI_INFERENCE_ORPHAN_SECONDS", "10"), ("SUANLI_INFERENCE_REPLICA_TAG", "a b"),
                         ("SUANLI_INFERENCE_REPLICA_TAG", "--model=x")]:
        monkeypatch.setenv("SUANLI_INFERENCE_ORPHAN_SECONDS", "0")
        monkeypatch.setenv("SUANLI_INFERENCE_REPLICA_TAG", "")
        monkeypatch.setenv(bad_var, bad)
        with pytest.raises(ValidationError) as e:
            Settings.from_env()
        assert bad_var in e.value.message, (bad_var, bad, e.value.message)

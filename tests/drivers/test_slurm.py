"""SlurmDriver against a real Slurm (``scripts/services/slurm-up``): reservations, jobs, usage, health.

Run with ``SUANLI_TEST_SLURM=1`` (and ``SUANLI_SLURM_DIR``, ``SUANLI_SLURM_REST_URL`` as printed by
slurm-up). Without it these tests are skipped; with it and no reachable Slurm they FAIL.
The cluster is 3 nodes (node1..node3) × 4 fake ``gpu:a100`` and 4 cores each. Jobs run as the
tenants' own Unix accounts (``suanli-sl-tenant-a``; tests/drivers/test_slurm_identity.py checks that);
the accounts this module creates are removed at its end.
Waits are bounded polls on Slurm's state, never fixed sleeps.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slurm_polling import until

from suanli.drivers import unix_accounts
from suanli.drivers.base import (
    WHOLE,
    DeviceAllocation,
    Driver,
    Feature,
    JobSpec,
    JobState,
    LeaseGrant,
    NodeState,
)
from suanli.drivers.slurm import Gres, SlurmConfig, SlurmDriver
from suanli.drivers.slurm.cli import gres_indices
from suanli.errors import ConflictError, EngineError, ValidationError

pytestmark = pytest.mark.slurm
TENANT_A, TENANT_B = "sl-tenant-a", "sl-tenant-b"


@pytest.fixture(autouse=True, scope="module")
def _tenant_accounts() -> Iterator[None]:
    """Provisioning creates the tenants' Unix accounts: remove those this module made."""
    before = {t for t in (TENANT_A, TENANT_B) if unix_accounts.lookup(t)}
    yield
    for t in {TENANT_A, TENANT_B} - before:
        # Slurm keeps the uid it resolved for a user: drop the user too, or a recreated account
        # (another uid) would be refused in the next run ("Invalid account")
        subprocess.run(["sacctmgr", "-i", "delete", "user", unix_accounts.unix_name(t)], capture_output=True,
                       timeout=30)
        unix_accounts.remove_account(t)


def _slurm_dir() -> Path:
    return Path(os.environ.get("SUANLI_SLURM_DIR", "/tmp/suanli-slurm"))


def _make(tmp: Path, mode: str) -> SlurmDriver:
    if os.environ.get("SUANLI_TEST_SLURM") != "1":
        pytest.skip("real Slurm not requested: run scripts/services/slurm-up and set SUANLI_TEST_SLURM=1")
    rest = os.environ.get("SUANLI_SLURM_REST_URL")
    if mode == "rest" and not rest:
        pytest.fail("SUANLI_TEST_SLURM=1 but SUANLI_SLURM_REST_URL is not set (slurm-up prints it)")
    cfg = SlurmConfig(state_dir=tmp / "state", job_dir=_slurm_dir() / "jobs" / tmp.name,
                      rest_url=rest if mode == "rest" else None, command_timeout_s=20)
    d = SlurmDriver(cfg)
    try:
        d.check()
    except EngineError as exc:
        pytest.fail(f"SUANLI_TEST_SLURM=1 but Slurm is not reachable: {exc}")
    return d


@pytest.fixture(params=["rest", "cli"])
def slurm(request: pytest.FixtureRequest, tmp_path: Path) -> SlurmDriver:
    return _make(tmp_path, request.param)


@pytest.fixture
def slurm_rest(tmp_path: Path) -> SlurmDriver:
    return _make(tmp_path, "rest")


def _lease_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def _grant(lease_id: str, node: str, devices: tuple[int, ...], *, tenant: str = TENANT_A,
           start: datetime | None = None, end: datetime | str | None = "1h") -> LeaseGrant:
    s = start or datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    e = s + timedelta(hours=1) if end == "1h" else end
    assert not isinstance(e, str)
    return LeaseGrant(lease_id, tenant, s, e,
                      (DeviceAllocation(node, devices, tuple(WHOLE for _ in devices), model="a100"),))




@pytest.fixture
def leases(request: pytest.FixtureRequest) -> Iterator[list[tuple[SlurmDriver, str]]]:
    """Leases to release whatever happens in the test."""
    made: list[tuple[SlurmDriver, str]] = []
    yield made
    for d, lease_id in made:
        d.release(lease_id)


def test_lease_becomes_reservation_and_job_runs_on_its_gpus(slurm: SlurmDriver, leases) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(slurm, Driver)
    since = datetime.now(UTC) - timedelta(seconds=5)
    lease_id = _lease_id("run")
    grant = _grant(lease_id, "node1", (0, 1))
    result = slurm.provision(grant)
    leases.append((slurm, lease_id))
    assert result.created and result.engine_ref == f"suanli-{lease_id}"
    resv = slurm.reservation(lease_id)
    assert resv is not None
    assert (resv["Nodes"], resv["Accounts"], resv["CoreCnt"]) == ("node1", TENANT_A, "2")
    assert resv["Users"] == unix_accounts.unix_name(TENANT_A)  # and no one else, root included
    assert slurm.provision(grant).created is False  # idempotent

    h = slurm.submit(lease_id, JobSpec(command=("sh", "-c", "echo CVD=$CUDA_VISIBLE_DEVICES; sleep 2"), devices=2))
    running = until("the job to run", lambda: (s := slurm.poll(h.job_id)).state is not JobState.PENDING and s)
    if running.state is JobState.RUNNING:
        detail = subprocess.run(["scontrol", "-d", "show", "job", h.job_id], capture_output=True, text=True,
                                timeout=20, check=True).stdout
        assert len(running.device_indices) == 2 and running.node == "node1"
        assert "GRES=gpu:a100:2(IDX:" in detail
        assert gres_indices(detail) == running.device_indices
        assert f"Reservation=suanli-{lease_id}" in detail
    done = until("the job to end", lambda: (s := slurm.poll(h.job_id)).state.terminal and s)
    assert done.state is JobState.COMPLETED and done.exit_code == 0, done
    assert len(done.device_indices) == 2
    assert f"CVD={','.join(str(i) for i in done.device_indices)}" in slurm.logs(h.job_id)

    [usage] = until("sacct to record the job",
                     lambda: [u for u in slurm.usage(since) if u.job_id == h.job_id])
    assert (usage.lease_id, usage.node, usage.devices, usage.state) == (lease_id, "node1", 2, JobState.COMPLETED)
    assert usage.device_indices == done.device_indices
    assert usage.device_seconds == 2 * usage.elapsed_seconds and usage.elapsed_seconds >= 1

    slurm.release(lease_id)
    assert slurm.reservation(lease_id) is None
    slurm.release(lease_id)  # idempotent


def test_lease_gpu_count_is_enforced_and_release_cancels_jobs(slurm_rest: SlurmDriver, leases) -> None:  # type: ignore[no-untyped-def]
    d = slurm_rest
    lease_id = _lease_id("cap")
    d.provision(_grant(lease_id, "node2", (2, 3)))
    leases.append((d, lease_id))
    with pytest.raises(ValidationError, match=rf"lease {lease_id} holds 2 device\(s\) on node node2"):
        d.submit(lease_id, JobSpec(command=("true",), devices=3))
    h = d.submit(lease_id, JobSpec(command=("sleep", "300")))
    with pytest.raises(ConflictError, match=rf"lease {lease_id} holds 2 GPU\(s\) on node node2; its running and pending jobs already use 2"):
        d.submit(lease_id, JobSpec(command=("true",), devices=1))
    until("the job to run", lambda: d.poll(h.job_id).state is JobState.RUNNING)
    d.release(lease_id)
    st = d.poll(h.job_id)
    assert st.state is JobState.CANCELLED
    assert d.reservation(lease_id) is None
    with pytest.raises(EngineError, match=f"lease {lease_id}: lease is not provisioned"):
        d.submit(lease_id, JobSpec(command=("true",)))


def test_whole_node_lease_refuses_other_accounts_in_slurm(slurm_rest: SlurmDriver, leases) -> None:  # type: ignore[no-untyped-def]
    d = slurm_rest
    lease_id = _lease_id("whole")
    res = d.provision(_grant(lease_id, "node3", (0, 1, 2, 3), tenant=TENANT_A))
    leases.append((d, lease_id))
    assert "CoreCnt" not in " ".join(res.notes)
    resv = d.reservation(lease_id)
    assert resv is not None and resv["CoreCnt"] == "4" and resv["Nodes"] == "node3"
    # another tenant's account may not run in the reservation: Slurm itself refuses
    d._ensure_account(TENANT_B, lease_id, "root")
    other = subprocess.run(["sbatch", "--parsable", f"--account={TENANT_B}", f"--reservation=suanli-{lease_id}",
                            "--wrap", "true"], capture_output=True, text=True, timeout=20)
    assert other.returncode != 0 and "Access denied" in other.stderr
    # a cancel by job id ends the job
    h = d.submit(lease_id, JobSpec(command=("sleep", "300"), devices=4))
    d.cancel(h.job_id)
    assert until("the cancel", lambda: d.poll(h.job_id).state is JobState.CANCELLED)


def test_future_and_open_ended_leases(slurm_rest: SlurmDriver, leases) -> None:  # type: ignore[no-untyped-def]
    d = slurm_rest
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    fut = _lease_id("fut")
    d.provision(_grant(fut, "node3", (0, 1), start=later))
    leases.append((d, fut))
    resv = d.reservation(fut)
    assert resv is not None and resv["State"] == "INACTIVE"
    assert datetime.fromisoformat(resv["StartTime"]).astimezone(UTC) == later
    with pytest.raises(ConflictError, match=f"lease {fut} starts at"):
        d.submit(fut, JobSpec(command=("true",)))
    d.release(fut)
    assert d.reservation(fut) is None

    open_id = _lease_id("open")
    d.provision(_grant(open_id, "node3", (0,), end=None))
    leases.append((d, open_id))
    resv = d.reservation(open_id)
    assert resv is not None and resv["Duration"].startswith("365-")
    h = d.submit(open_id, JobSpec(command=("sh", "-c", "echo hi"), time_limit=timedelta(minutes=5)))
    assert until("the job to end", lambda: (s := d.poll(h.job_id)).state.terminal and s).state is JobState.COMPLETED


def test_node_down_is_reported_with_its_reason(slurm: SlurmDriver) -> None:
    try:
        subprocess.run(["scontrol", "update", "nodename=node3", "state=down", "reason=suanli test: PSU"],
                       check=True, timeout=20, capture_output=True)
        h = until("node3 down", lambda: next((n for n in slurm.node_health()
                                                if n.node == "node3" and n.state is NodeState.DOWN), None))
        assert h.reason == "suanli test: PSU"
        subprocess.run(["scontrol", "update", "nodename=node3", "state=resume"], check=True, timeout=20,
                       capture_output=True)
        subprocess.run(["scontrol", "update", "nodename=node3", "state=drain", "reason=suanli test: drain"],
                       check=True, timeout=20, capture_output=True)
        h = until("node3 drained", lambda: next((n for n in slurm.node_health()
                                                  if n.node == "node3" and n.state is NodeState.DRAIN), None))
        assert h.reason == "suanli test: drain"
    finally:
        subprocess.run(["scontrol", "update", "nodename=node3", "state=resume"], timeout=20, capture_output=True)
    until("node3 up again", lambda: next((n for n in slurm.node_health()
                                           if n.node == "node3" and n.state is NodeState.UP), None))


def test_job_for_unprovisioned_lease_names_the_lease(slurm: SlurmDriver) -> None:
    with pytest.raises(EngineError, match="lease never-made: lease is not provisioned on slurm") as ei:
        slurm.submit("never-made", JobSpec(command=("true",)))
    assert ei.value.details["lease_id"] == "never-made"


def test_import_fleet_reads_nodes_gres_and_partitions(slurm: SlurmDriver) -> None:
    fleet = slurm.import_fleet()
    assert fleet.cluster == "suanli"
    names = [n.name for n in fleet.nodes]
    assert {"node1", "node2", "node3"} <= set(names)
    n1 = fleet.node("node1")
    assert n1 is not None and n1.gres == (Gres("gpu", "a100", 4),) and n1.cpus == 4 and n1.memory_mib == 2000
    assert n1.partitions == ("gpu",)
    [gpu] = [p for p in fleet.partitions if p.name == "gpu"]
    assert gpu.default and set(names) <= set(gpu.nodes) and gpu.max_time_minutes is None


def test_bad_grants_are_refused_before_slurm(slurm_rest: SlurmDriver) -> None:
    d = slurm_rest
    caps = d.capabilities()
    assert not caps.supports(Feature.FRACTIONAL_DEVICES)
    s = datetime.now(UTC) - timedelta(seconds=5)
    frac = LeaseGrant(_lease_id("frac"), TENANT_A, s, s + timedelta(hours=1),
                      (DeviceAllocation("node1", (0,), (500,)),))
    with pytest.raises(ValidationError, match="fractional GPU: not supported by this Slurm configuration"):
        d.provision(frac)
    with pytest.raises(ValidationError, match="indices \\[9\\] do not exist"):
        d.provision(_grant(_lease_id("idx"), "node1", (9,)))
    with pytest.raises(ValidationError, match="node 'node99' is not in this Slurm cluster"):
        d.provision(_grant(_lease_id("nonode"), "node99", (0,)))


def test_unreachable_slurm_is_a_retryable_engine_error(tmp_path: Path, slurm_rest: SlurmDriver) -> None:
    dead_rest = SlurmDriver(SlurmConfig(state_dir=tmp_path / "s1", job_dir=tmp_path / "j1",
                                        rest_url="http://127.0.0.1:9", jwt="x"))
    with pytest.raises(EngineError, match=r"slurmrestd at http://127\.0\.0\.1:9 is unreachable") as ei:
        dead_rest.node_health()
    assert ei.value.details["retryable"] is True
    conf = tmp_path / "slurm.conf"
    conf.write_text(Path("/etc/slurm/slurm.conf").read_text().replace("SlurmctldPort=16817", "SlurmctldPort=9"))
    dead_cli = SlurmDriver(SlurmConfig(state_dir=tmp_path / "s2", job_dir=tmp_path / "j2", command_timeout_s=3,
                                       slurm_env={"SLURM_CONF": str(conf)}))
    with pytest.raises(EngineError) as ei:
        dead_cli.node_health()
    assert ei.value.details["retryable"] is True

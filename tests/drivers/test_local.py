"""LocalDriver against real processes: pinning, limits, termination, accounting, failures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from suanli.domain.catalog import Vendor
from suanli.drivers.base import Driver, Feature, JobSpec, JobState, NodeState
from suanli.drivers.local import LocalDriver
from suanli.errors import ConflictError, EngineError, NotFoundError, ValidationError

PY = "python3"  # jobs run in the sandbox: a system-wide interpreter (the venv under /root is not visible)
WAIT = 20.0


@pytest.fixture
def driver(tmp_path: Path) -> LocalDriver:
    return LocalDriver(tmp_path / "local", nodes={"n1": 4, "n2": 2}, grace=timedelta(seconds=2))


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(pred, timeout: float = WAIT) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def test_local_driver_satisfies_protocol(driver: LocalDriver) -> None:
    assert isinstance(driver, Driver)
    caps = driver.capabilities()
    assert caps.supports(Feature.DEVICE_PINNING)
    assert "fractional device" in (caps.reason(Feature.RESOURCE_LIMITS) or "")


def test_job_sees_exactly_the_lease_devices(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L1", devices=(1, 3)))
    h = driver.submit("L1", JobSpec(command=("sh", "-c", "echo CVD=$CUDA_VISIBLE_DEVICES lease=$SUANLI_LEASE_ID; pwd")))
    st = driver.wait(h.job_id, WAIT)
    assert st.state is JobState.COMPLETED and st.exit_code == 0
    out = driver.logs(h.job_id)
    assert "CVD=1,3 lease=L1" in out
    assert out.splitlines()[1] == "/work"  # its own work directory, mounted at /work in the sandbox
    assert st.device_indices == (1, 3)


def test_vendor_variable_and_fewer_devices(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L2", devices=(0, 1, 2), vendor=Vendor.HUAWEI))
    h = driver.submit("L2", JobSpec(command=("sh", "-c", "echo A=$ASCEND_RT_VISIBLE_DEVICES C=${CUDA_VISIBLE_DEVICES-unset}"),
                                    devices=2))
    driver.wait(h.job_id, WAIT)
    assert "A=0,1 C=unset" in driver.logs(h.job_id)


def test_server_environment_does_not_leak(driver: LocalDriver, make_grant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SUANLI_DATABASE_URL", "postgresql://secret")
    driver.provision(make_grant("L3"))
    h = driver.submit("L3", JobSpec(command=("sh", "-c", "echo DB=${SUANLI_DATABASE_URL-none} X=$X"), env={"X": "y"}))
    driver.wait(h.job_id, WAIT)
    assert "DB=none X=y" in driver.logs(h.job_id)


def test_refuses_more_devices_than_held_naming_the_lease(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L4", devices=(0, 1)))
    with pytest.raises(ValidationError, match=r"lease L4 holds 2 device\(s\) on node n1 .* asked for 3"):
        driver.submit("L4", JobSpec(command=("true",), devices=3))
    with pytest.raises(ValidationError, match="lease L4 holds no devices on node 'n2'"):
        driver.submit("L4", JobSpec(command=("true",), node="n2"))
    with pytest.raises(ValidationError, match="may not set"):
        driver.submit("L4", JobSpec(command=("true",), env={"CUDA_VISIBLE_DEVICES": "0,1,2,3"}))


def test_refuses_outside_window_and_unprovisioned(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    later = datetime.now(UTC) + timedelta(hours=1)
    driver.provision(make_grant("future", start=later))
    with pytest.raises(ConflictError, match="lease future starts at"):
        driver.submit("future", JobSpec(command=("true",)))
    past = datetime.now(UTC) - timedelta(hours=2)
    driver.provision(make_grant("ended", start=past, end=past + timedelta(hours=1)))
    with pytest.raises(ConflictError, match="lease ended ended at"):
        driver.submit("ended", JobSpec(command=("true",)))
    with pytest.raises(EngineError, match="lease nope: lease is not provisioned") as ei:
        driver.submit("nope", JobSpec(command=("true",)))
    assert ei.value.details["lease_id"] == "nope" and ei.value.details["retryable"] is False
    driver.provision(make_grant("L5"))
    with pytest.raises(ValidationError, match="would run past it"):
        driver.submit("L5", JobSpec(command=("true",), time_limit=timedelta(hours=3)))


def test_provision_is_idempotent_and_rejects_a_changed_grant(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    g = make_grant("L6")
    assert driver.provision(g).created is True
    assert driver.provision(g).created is False
    with pytest.raises(ConflictError, match="already provisioned with a different grant"):
        driver.provision(make_grant("L6", devices=(2,)))
    with pytest.raises(ValidationError, match="indices \\[7\\] do not exist"):
        driver.provision(make_grant("L7", devices=(7,)))
    with pytest.raises(ValidationError, match="not run by this local driver"):
        driver.provision(make_grant("L8", node="elsewhere"))


def test_cancel_terminates_the_whole_process_group(driver: LocalDriver, make_grant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L9"))
    # the child ignores SIGTERM: only the SIGKILL after the grace period ends it
    script = "sh -c 'trap \"\" TERM; echo started; while :; do sleep 1; done' & wait"
    h = driver.submit("L9", JobSpec(command=("sh", "-c", script)))
    assert _wait_for(lambda: "started" in driver.logs(h.job_id))
    group = driver._jobs[h.job_id].group
    assert group is not None
    pids = group.pids()
    assert len(pids) >= 3 and all(_alive(p) for p in pids)  # the sandbox, sh, the child and its sleep
    t0 = time.monotonic()
    driver.cancel(h.job_id)
    st = driver.poll(h.job_id)
    assert st.state is JobState.CANCELLED and st.end is not None
    assert not any(_alive(p) for p in pids)
    assert not group.dirs[0].exists()  # the job's cgroup is removed
    assert time.monotonic() - t0 < 10
    driver.cancel(h.job_id)  # idempotent


def test_release_kills_running_jobs_and_forgets_the_lease(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L10"))
    hs = [driver.submit("L10", JobSpec(command=("sleep", "300"))) for _ in range(2)]
    assert all(driver.poll(h.job_id).state is JobState.RUNNING for h in hs)
    driver.release("L10")
    assert all(driver.poll(h.job_id).state is JobState.CANCELLED for h in hs)
    assert "released" in (driver.poll(hs[0].job_id).reason or "")
    with pytest.raises(EngineError, match="not provisioned"):
        driver.submit("L10", JobSpec(command=("true",)))
    driver.release("L10")  # idempotent


def test_time_limit_ends_the_job(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L11"))
    h = driver.submit("L11", JobSpec(command=("sleep", "300"), time_limit=timedelta(seconds=1)))
    st = driver.wait(h.job_id, WAIT)
    assert st.state is JobState.TIMEOUT and st.reason == "time limit reached"


def test_memory_limit_is_applied(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L12"))
    big = driver.submit("L12", JobSpec(command=(PY, "-c", "x = bytearray(400 << 20); print('allocated')"),
                                       memory_mib=128))
    small = driver.submit("L12", JobSpec(command=(PY, "-c", "x = bytearray(16 << 20); print('allocated')"),
                                         memory_mib=128))
    st = driver.wait(big.job_id, WAIT)
    assert st.state is JobState.FAILED and "out of memory" in (st.reason or "")
    assert "allocated" not in driver.logs(big.job_id)
    assert driver.wait(small.job_id, WAIT).state is JobState.COMPLETED
    assert "allocated" in driver.logs(small.job_id)


def test_failing_job_and_stderr(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L13"))
    h = driver.submit("L13", JobSpec(command=("sh", "-c", "echo oops >&2; exit 3")))
    st = driver.wait(h.job_id, WAIT)
    assert st.state is JobState.FAILED and st.exit_code == 3 and st.reason == "exit code 3"
    assert "--- stderr ---\noops" in driver.logs(h.job_id)
    with pytest.raises(ValidationError, match="not found"):
        driver.submit("L13", JobSpec(command=("/no/such/binary",)))
    with pytest.raises(NotFoundError):
        driver.poll("job-unknown")


def test_accounting_survives_a_new_driver_instance(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    since = datetime.now(UTC) - timedelta(minutes=1)
    d1 = LocalDriver(tmp_path / "d", nodes={"n1": 4}, grace=timedelta(seconds=1))
    d1.provision(make_grant("L14", devices=(0, 1, 2), milli=(1000, 1000, 500)))
    h = d1.submit("L14", JobSpec(command=(PY, "-c", "import time; time.sleep(1.2)")))
    st = d1.wait(h.job_id, WAIT)
    assert st.state is JobState.COMPLETED
    d2 = LocalDriver(tmp_path / "d", nodes={"n1": 4})
    assert d2.poll(h.job_id).state is JobState.COMPLETED
    [u] = d2.usage(since)
    assert (u.job_id, u.lease_id, u.node, u.device_indices) == (h.job_id, "L14", "n1", (0, 1, 2))
    assert u.elapsed_seconds >= 1
    assert u.device_seconds == Decimal(u.elapsed_seconds) * Decimal("2.5")
    assert d2.usage(u.end + timedelta(seconds=1)) == []
    # the grant survives too
    h2 = d2.submit("L14", JobSpec(command=("true",), devices=1))
    assert d2.wait(h2.job_id, WAIT).state is JobState.COMPLETED


def test_job_running_across_a_restart_is_reported_then_cancelled(tmp_path: Path) -> None:
    # the first driver lives in another process that exits while its job runs on
    code = (
        "import sys; from datetime import UTC, datetime, timedelta; from pathlib import Path\n"
        "from suanli.drivers.base import DeviceAllocation, LeaseGrant, JobSpec\n"
        "from suanli.drivers.local import LocalDriver\n"
        "d = LocalDriver(Path(sys.argv[1]), nodes={'n1': 4})\n"
        "s = datetime.now(UTC) - timedelta(seconds=5)\n"
        "d.provision(LeaseGrant('L15', 't', s, s + timedelta(hours=1), (DeviceAllocation('n1', (0,), (1000,)),)))\n"
        "print(d.submit('L15', JobSpec(command=('sleep', '300'))).job_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, timeout=60, check=True)
    job_id = out.stdout.strip()
    d2 = LocalDriver(tmp_path / "d", nodes={"n1": 4}, grace=timedelta(seconds=1))
    st = d2.poll(job_id)
    assert st.state is JobState.RUNNING and st.device_indices == (0,)
    d2.cancel(job_id)
    assert d2.poll(job_id).state is JobState.CANCELLED
    assert LocalDriver(tmp_path / "d").poll(job_id).state is JobState.CANCELLED


def test_failed_device_and_node_show_in_health_and_stop_work(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L16", devices=(0, 1)))
    h = driver.submit("L16", JobSpec(command=("sleep", "300")))
    driver.fail_device("n1", 1, "XID 79: fallen off the bus")
    st = driver.poll(h.job_id)
    assert st.state is JobState.NODE_FAIL and "device 1 of node n1 failed" in (st.reason or "")
    health = {n.node: n for n in driver.node_health()}
    assert health["n1"].failed_devices == (1,) and "XID 79" in (health["n1"].reason or "")
    assert health["n2"].state is NodeState.UP
    with pytest.raises(ConflictError, match="lease L16: device\\(s\\) \\[1\\] of node n1 failed"):
        driver.submit("L16", JobSpec(command=("true",)))
    ok = driver.submit("L16", JobSpec(command=("sh", "-c", "echo $CUDA_VISIBLE_DEVICES"), devices=1))
    driver.wait(ok.job_id, WAIT)
    assert driver.logs(ok.job_id).strip() == "0"
    driver.fail_node("n1", "PSU failure")
    assert {n.node: n.state for n in driver.node_health()}["n1"] is NodeState.DOWN
    # failures persist across instances
    again = LocalDriver(driver.data_dir, nodes={"n1": 4, "n2": 2})
    assert {n.node: n.reason for n in again.node_health()}["n1"] == "PSU failure"
    with pytest.raises(ConflictError, match="node n1 is down"):
        again.submit("L16", JobSpec(command=("true",)))
    again.restore_node("n1")
    assert all(n.state is NodeState.UP and not n.failed_devices for n in again.node_health())


def test_jobs_listing(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L17"))
    h = driver.submit("L17", JobSpec(command=("true",)))
    driver.wait(h.job_id, WAIT)
    assert [s.job_id for s in driver.jobs("L17")] == [h.job_id]
    assert os.path.isdir(driver.data_dir / "jobs" / h.job_id)


def test_job_that_ends_while_no_driver_watches_is_lost(tmp_path: Path) -> None:
    code = (
        "import sys; from datetime import UTC, datetime, timedelta; from pathlib import Path\n"
        "from suanli.drivers.base import DeviceAllocation, LeaseGrant, JobSpec\n"
        "from suanli.drivers.local import LocalDriver\n"
        "d = LocalDriver(Path(sys.argv[1]), nodes={'n1': 1})\n"
        "s = datetime.now(UTC) - timedelta(seconds=5)\n"
        "d.provision(LeaseGrant('L18', 't', s, None, (DeviceAllocation('n1', (0,), (1000,)),)))\n"
        "print(d.submit('L18', JobSpec(command=('sleep', '0.3'))).job_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, timeout=60, check=True)
    job_id = out.stdout.strip()
    d = LocalDriver(tmp_path / "d", nodes={"n1": 1})
    st = d.wait(job_id, WAIT)
    assert st.state is JobState.LOST and "exit code is unknown" in (st.reason or "")
    assert [u.job_id for u in d.usage(st.start)] == [job_id]  # type: ignore[arg-type]

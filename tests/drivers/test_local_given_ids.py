"""LocalDriver under a caller's job id (a node agent runs jobs under the server's ids), its lease list,
log tails per stream, and stopping jobs as a given terminal state (the agent's fencing)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from suanli.drivers.base import JobSpec, JobState
from suanli.drivers.local import LocalDriver
from suanli.errors import ConflictError, ValidationError

WAIT = 20.0


@pytest.fixture
def driver(tmp_path: Path) -> LocalDriver:
    return LocalDriver(tmp_path / "local", nodes={"n1": 2}, grace=timedelta(seconds=1))


def test_submit_under_given_id_runs_once(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L1", devices=(0, 1)))
    h = driver.submit("L1", JobSpec(command=("sh", "-c", "echo id=$SUANLI_JOB_ID; echo oops >&2")),
                      job_id="agj_0123456789ab")
    assert h.job_id == "agj_0123456789ab"
    again = driver.submit("L1", JobSpec(command=("sh", "-c", "echo second")), job_id="agj_0123456789ab")
    assert again.job_id == h.job_id and again.submitted_at == h.submitted_at
    st = driver.wait(h.job_id, WAIT)
    assert st.state is JobState.COMPLETED
    out, err = driver.log_tails(h.job_id)
    assert out == "id=agj_0123456789ab\n" and err == "oops\n"  # the second submit started nothing
    assert [j.job_id for j in driver.jobs()] == ["agj_0123456789ab"]
    assert [g.lease_id for g in driver.leases()] == ["L1"]
    # a restarted driver knows the job under the same id
    again2 = LocalDriver(driver.data_dir, nodes={"n1": 2})
    assert again2.poll("agj_0123456789ab").state is JobState.COMPLETED


@pytest.mark.parametrize("bad", ["../x", "", "a" * 65, "a b", "a/b"])
def test_submit_refuses_unsafe_ids(driver: LocalDriver, make_grant, bad: str) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L1"))
    with pytest.raises(ValidationError, match="allowed: 1 to 64"):
        driver.submit("L1", JobSpec(command=("true",)), job_id=bad)
    assert driver.jobs() == []


def test_given_id_of_another_lease_conflicts(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L1", devices=(0,)))
    driver.provision(make_grant("L2", devices=(1,)))
    driver.submit("L1", JobSpec(command=("true",)), job_id="j1")
    with pytest.raises(ConflictError, match="already runs under lease L1"):
        driver.submit("L2", JobSpec(command=("true",)), job_id="j1")


def test_stop_ends_running_jobs_as_the_given_state(driver: LocalDriver, make_grant) -> None:  # type: ignore[no-untyped-def]
    driver.provision(make_grant("L1"))
    h = driver.submit("L1", JobSpec(command=("sleep", "60")), job_id="j-long")
    deadline = time.monotonic() + WAIT
    while driver.poll(h.job_id).state is not JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    driver.stop([h.job_id, "unknown"], JobState.FAILED, "fenced: cut off from the server for 21 s")
    st = driver.poll(h.job_id)
    assert st.state is JobState.FAILED and st.reason == "fenced: cut off from the server for 21 s"
    with pytest.raises(ValueError, match="terminal"):
        driver.stop([h.job_id], JobState.RUNNING, "no")

"""The fence keeper: an agent's jobs do not outlive the agent beyond fence_s. Real processes: the
jobs run in the sandbox of a LocalDriver (as the agent's engine), the "agent" is a real process that
is dead (or alive); time is the real monotonic clock, with the last successful call set in the past."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suanli.agent.keeper import keep, write_fence
from suanli.domain.catalog import Vendor
from suanli.drivers.base import WHOLE, DeviceAllocation, JobState, LeaseGrant
from suanli.drivers.local import LocalDriver
from suanli.drivers.sandbox import Sandbox


def grant() -> LeaseGrant:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    return LeaseGrant(lease_id="ls_1", tenant="tenant-a", start=start, end=start + timedelta(hours=1),
                      allocations=(DeviceAllocation(node="edge-1", device_indices=(0,), device_milli=(WHOLE,),
                                                    vendor=Vendor.NVIDIA),))


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


AGENT = """
import sys, time
from datetime import timedelta
from pathlib import Path
from suanli.drivers.base import JobSpec, JobState, LeaseGrant
from suanli.drivers.local import LocalDriver
d = LocalDriver(Path(sys.argv[1]) / "engine", nodes={"edge-1": 1}, grace=timedelta(seconds=0.5))
d.provision(LeaseGrant.from_dict(__import__("json").loads(sys.argv[2])))
h = d.submit("ls_1", JobSpec(command=("sleep", "60")), job_id="agj_00000000000f")
while d.poll(h.job_id).state is not JobState.RUNNING:
    time.sleep(0.02)
"""


def running_job(state: Path) -> tuple[int, str]:
    """An "agent" process that started a job and is gone (its job runs on, in its own session)."""
    agent = subprocess.run([sys.executable, "-c", AGENT, str(state), json.dumps(grant().to_dict())], check=True,
                           timeout=60)
    assert agent.returncode == 0
    d = LocalDriver(state / "engine")
    assert d.poll("agj_00000000000f").state is JobState.RUNNING
    return dead_pid(), "agj_00000000000f"


def test_a_dead_agents_jobs_are_fenced_past_fence_s(tmp_path: Path) -> None:
    agent, job_id = running_job(tmp_path)
    write_fence(tmp_path, pid=agent, last_ok=time.monotonic() - 3, fence_s=1.2, kill_grace_s=0.5)
    assert keep(tmp_path, agent, Sandbox(), poll_s=0.02) == "fenced 1 job(s)"
    st = LocalDriver(tmp_path / "engine").poll(job_id)  # what a restarted agent reads and reports
    assert st.state is JobState.FAILED
    assert st.reason == "fenced: cut off from the server for 3 s (the agent was not running)"


def test_the_keeper_waits_for_fence_s_then_fences(tmp_path: Path) -> None:
    agent, job_id = running_job(tmp_path)
    write_fence(tmp_path, pid=agent, last_ok=time.monotonic(), fence_s=0.6, kill_grace_s=0.5)
    started = time.monotonic()
    assert keep(tmp_path, agent, Sandbox(), poll_s=0.02) == "fenced 1 job(s)"
    assert time.monotonic() - started >= 0.6  # not before fence_s since the last successful call
    assert LocalDriver(tmp_path / "engine").poll(job_id).state is JobState.FAILED


def test_the_keeper_leaves_when_a_new_agent_took_over_or_nothing_runs(tmp_path: Path) -> None:
    _agent, job_id = running_job(tmp_path)
    newer = subprocess.Popen(["sleep", "30"])
    try:
        write_fence(tmp_path, pid=newer.pid, last_ok=time.monotonic() - 100, fence_s=1.2, kill_grace_s=0.5)
        assert keep(tmp_path, dead_pid(), Sandbox(), poll_s=0.02) == "another agent took over"
        assert LocalDriver(tmp_path / "engine").poll(job_id).state is JobState.RUNNING  # the new agent's: left alone
    finally:
        newer.kill()
        newer.wait()
    LocalDriver(tmp_path / "engine", grace=timedelta(seconds=0.5)).stop([job_id], JobState.CANCELLED, "done")
    write_fence(tmp_path, pid=dead_pid(), last_ok=time.monotonic() - 100, fence_s=1.2, kill_grace_s=0.5)
    assert keep(tmp_path, dead_pid(), Sandbox(), poll_s=0.02) == "the agent is gone and no job runs"

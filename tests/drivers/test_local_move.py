"""DEFRAG's job hook on the local engine (docs/defrag.md "The job hook"), with a real job: it is told of the
move through the notice file, checkpoints a counter on SIGTERM, and starts again on the new devices with
SUANLI_RESTORED=1 under the same id, resuming from its checkpoint."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suanli.domain.defrag import NOTICE_FILE
from suanli.drivers.base import JobSpec, JobState
from suanli.drivers.local import LocalDriver

JOB = r"""
if [ "$SUANLI_RESTORED" = 1 ]; then c=$(cat ckpt); stop=$((c + 10)); echo "restored $c on $CUDA_VISIBLE_DEVICES"
else c=0; stop=100000; echo "fresh on $CUDA_VISIBLE_DEVICES"; fi
trap 'echo "$c" > ckpt; exit 0' TERM
while [ "$c" -lt "$stop" ]; do
  c=$((c + 1)); echo "$c" > count
  if [ -f "$SUANLI_MOVE_NOTICE" ]; then cp "$SUANLI_MOVE_NOTICE" seen; fi
  sleep 0.02
done
echo "done $c"
"""


def until(path: Path, ok, timeout: float = 20.0) -> str:  # type: ignore[no-untyped-def]
    """A real process writes ``path``: read it until ``ok`` (bounded)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            text = path.read_text()
            if ok(text):
                return text
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"{path} never satisfied the condition")


def test_a_moved_job_checkpoints_and_resumes_on_the_new_devices(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, grace=timedelta(seconds=5))
    drv.provision(make_grant("M1", devices=(0,)))
    h = drv.submit("M1", JobSpec(command=("sh", "-c", JOB)))
    work = drv.work_dir(h.job_id)
    until(work / "count", lambda t: t.strip() and int(t) >= 5)
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    assert drv.notify_move("M1", deadline, "plan dfg_x") == [h.job_id]
    seen = json.loads(until(work / "seen", lambda t: t.strip().endswith("}")))
    assert seen == {"deadline": deadline.isoformat(), "reason": "plan dfg_x"}
    assert drv.move(make_grant("M1", devices=(2,))) == [h.job_id]
    saved = int((work / "ckpt").read_text())
    assert saved >= 5
    assert not (work / NOTICE_FILE).exists()  # the notice is over once the job moved
    st = drv.wait(h.job_id, 30)
    assert st.state is JobState.COMPLETED, st
    log = drv.logs(h.job_id)
    assert "fresh on 0" in log and f"restored {saved} on 2" in log and f"done {saved + 10}" in log

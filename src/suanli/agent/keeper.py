"""The fence keeper: fences an agent's jobs when the agent itself is gone.

A node's jobs outlive their agent on purpose (a restarted agent re-attaches to them). But an agent
killed (SIGKILL, a crash, stopped and not started again) fences nothing, while the server marks
the node down after ``down_s`` and re-places its leases. The keeper closes that gap: ``suanli
agent run`` starts it in its own session; it watches ``fence.json`` in the state directory (the
agent's pid, the CLOCK_MONOTONIC time of its last successful call, ``fence_s``, the kill grace),
and once the agent's process is gone:

- with no job running, it exits;
- when the last successful call is older than ``fence_s``, it stops the running jobs exactly as
  the agent would (SIGTERM, SIGKILL after the grace; ``failed``, "fenced: cut off from the server
  for N s (the agent was not running)"), through the agent's own engine records, so a restarted
  agent reports them; then it exits;
- when a new agent took over (another live pid in ``fence.json``), it exits.

Run as ``python -m suanli.agent.keeper STATE_DIR AGENT_PID SANDBOX NETWORK``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.drivers.sandbox import Sandbox

FENCE_FILE = "fence.json"


def write_fence(state_dir: Path, *, pid: int, last_ok: float, fence_s: float, kill_grace_s: float) -> None:
    """The agent's side: atomically (no fsync: a monotonic time means nothing after a reboot)."""
    path = Path(state_dir) / FENCE_FILE
    tmp = path.with_name(f".{FENCE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"pid": pid, "last_ok": last_ok, "fence_s": fence_s, "kill_grace_s": kill_grace_s}))
    os.replace(tmp, path)


def alive(pid: int) -> bool:
    """A running (not zombie) process ``pid``."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _read(state_dir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / FENCE_FILE).read_text())
        return data
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def keep(state_dir: Path, agent_pid: int, sandbox: Sandbox, *, poll_s: float | None = None) -> str:
    """Watch until there is nothing left to do; returns why it stopped (for the log and tests)."""
    driver: LocalDriver | None = None
    while True:
        fence = _read(state_dir)
        if fence is not None and fence["pid"] != agent_pid and alive(int(fence["pid"])):
            return "another agent took over"
        fence_s = float(fence["fence_s"]) if fence else 20.0
        if not alive(agent_pid):
            if driver is None:
                grace = float(fence["kill_grace_s"]) if fence else 5.0
                driver = LocalDriver(state_dir / "engine", sandbox=sandbox, grace=timedelta(seconds=grace))
            running = [j.job_id for j in driver.jobs() if not j.state.terminal]
            if not running:
                return "the agent is gone and no job runs"
            age = time.monotonic() - float(fence["last_ok"]) if fence else fence_s + 1
            if age > fence_s:
                driver.stop(running, JobState.FAILED,
                            f"fenced: cut off from the server for {int(age)} s (the agent was not running)")
                return f"fenced {len(running)} job(s)"
        time.sleep(poll_s if poll_s is not None else max(fence_s / 10, 0.02))


def main(argv: list[str]) -> int:
    state_dir, pid, mode, network = Path(argv[0]), int(argv[1]), argv[2], argv[3]
    why = keep(state_dir, pid, Sandbox(mode, network=network))
    print(f"suanli agent keeper ({state_dir}): {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

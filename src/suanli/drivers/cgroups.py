"""Per-job control groups: CPU share, memory and process limits, on cgroup v1 or v2.

Contract:

- :func:`detect` finds what this machine offers under ``root`` (default ``/sys/fs/cgroup``): **v2**
  when ``root/cgroup.controllers`` exists (unified hierarchy), else **v1** when the ``memory``,
  ``cpu`` and ``pids`` controllers are mounted as ``root/<controller>``. It returns ``None`` with the
  reason when the hierarchy is missing or not writable by this process (not root, nothing delegated).
- :class:`JobGroup` is one job's group, named ``suanli/<job id>`` in each hierarchy. :meth:`JobGroup.create`
  makes the directories and writes the limits; :meth:`JobGroup.join` (called in the child between
  fork and exec) moves the calling process in, so the job and everything it starts stay inside;
  :meth:`JobGroup.kill` SIGKILLs every process in it; :meth:`JobGroup.remove` deletes the
  directories once empty. :meth:`JobGroup.oom_killed` tells whether the kernel killed a process
  for exceeding the memory limit.
- Limits: CPU as a CFS quota (``cpu_milli`` thousandths of a core per 100 ms period), memory in MiB
  (v1 also limits memory + swap when the kernel accounts swap), at most ``pids`` tasks.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

PERIOD_US = 100_000
V1_CONTROLLERS = ("memory", "cpu", "pids")
V2_CONTROLLERS = ("memory", "cpu", "pids")
PARENT = "suanli"


@dataclass(frozen=True)
class Hierarchy:
    version: int
    """1 or 2."""
    root: Path


def detect(root: Path = Path("/sys/fs/cgroup")) -> tuple[Hierarchy | None, str | None]:
    """The cgroup hierarchy jobs can be put in, or ``None`` and why not."""
    if (root / "cgroup.controllers").exists():
        available = set((root / "cgroup.controllers").read_text().split())
        missing = [c for c in V2_CONTROLLERS if c not in available]
        if missing:
            return None, f"cgroup v2 at {root} lacks the controllers {missing}"
        if not os.access(root / "cgroup.subtree_control", os.W_OK):
            return None, f"cgroup v2 at {root} is not writable by this user (no delegated subtree)"
        return Hierarchy(2, root), None
    missing = [c for c in V1_CONTROLLERS if not (root / c / "cgroup.procs").exists()]
    if missing:
        return None, f"no cgroup v2 at {root} and the v1 controllers {missing} are not mounted"
    unwritable = [c for c in V1_CONTROLLERS if not os.access(root / c, os.W_OK)]
    if unwritable:
        return None, f"cgroup v1 controllers {unwritable} at {root} are not writable by this user"
    return Hierarchy(1, root), None


class JobGroup:
    """One job's cgroup (see the module docstring)."""

    def __init__(self, hierarchy: Hierarchy, job_id: str) -> None:
        self.hierarchy = hierarchy
        self.job_id = job_id
        h = hierarchy
        if h.version == 2:
            self.dirs = [h.root / PARENT / job_id]
        else:
            self.dirs = [h.root / c / PARENT / job_id for c in V1_CONTROLLERS]

    def _dir(self, controller: str) -> Path:
        return self.dirs[0] if self.hierarchy.version == 2 else self.hierarchy.root / controller / PARENT / self.job_id

    def create(self, *, cpu_milli: int | None, memory_mib: int | None, pids: int) -> None:
        h = self.hierarchy
        if h.version == 2:
            parent = h.root / PARENT
            parent.mkdir(exist_ok=True)
            wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS)
            with contextlib.suppress(OSError):  # already enabled, or enabled by the operator
                (h.root / "cgroup.subtree_control").write_text(wanted)
            (parent / "cgroup.subtree_control").write_text(wanted)
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        if h.version == 2:
            d = self.dirs[0]
            if memory_mib is not None:
                (d / "memory.max").write_text(str(memory_mib << 20))
                with contextlib.suppress(FileNotFoundError):
                    (d / "memory.swap.max").write_text("0")
            if cpu_milli is not None:
                (d / "cpu.max").write_text(f"{max(1000, cpu_milli * PERIOD_US // 1000)} {PERIOD_US}")
            (d / "pids.max").write_text(str(pids))
            return
        if memory_mib is not None:
            mem = self._dir("memory")
            (mem / "memory.limit_in_bytes").write_text(str(memory_mib << 20))
            with contextlib.suppress(FileNotFoundError, OSError):  # swap accounting may be off
                (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mib << 20))
        if cpu_milli is not None:
            cpu = self._dir("cpu")
            (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(max(1000, cpu_milli * PERIOD_US // 1000)))
        (self._dir("pids") / "pids.max").write_text(str(pids))

    def join(self) -> None:
        """Move the calling process into the group (runs in the child, before exec)."""
        me = str(os.getpid())
        for d in self.dirs:
            with open(d / "cgroup.procs", "w") as fh:
                fh.write(me)

    def pids(self) -> list[int]:
        try:
            text = (self.dirs[0] / "cgroup.procs").read_text()
        except FileNotFoundError:
            return []
        return [int(x) for x in text.split()]

    def kill(self) -> None:
        """SIGKILL every process in the group."""
        if self.hierarchy.version == 2 and (self.dirs[0] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.dirs[0] / "cgroup.kill").write_text("1")
                return
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this group for exceeding its memory limit."""
        try:
            if self.hierarchy.version == 2:
                text = (self.dirs[0] / "memory.events").read_text()
            else:
                text = (self._dir("memory") / "memory.oom_control").read_text()
        except FileNotFoundError:
            return False
        fields = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(fields.get("oom_kill", "0")) > 0

    def remove(self) -> None:
        """Delete the group's directories (best effort: a directory with live processes stays)."""
        for d in self.dirs:
            with contextlib.suppress(FileNotFoundError, OSError):
                d.rmdir()

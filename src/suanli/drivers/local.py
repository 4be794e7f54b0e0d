"""The local driver: tenant jobs as processes on this machine (the embedded default, ``serve --demo``).

Contract on top of :mod:`suanli.drivers.base`:

- A job runs in the sandbox of :mod:`suanli.drivers.sandbox`: as its tenant's own Unix account, in
  bubblewrap (no view of the server's files, processes or other tenants' work), in a cgroup holding it
  to the lease's CPU share and memory (``DeviceAllocation.cpu_milli`` / ``host_memory_mib``, or the
  job's own smaller ``cpus`` / ``memory_mib``) and a process limit, seeing only the lease's device
  nodes. It is pinned to the lease's devices through the vendor's variable (``CUDA_VISIBLE_DEVICES=0,1``,
  ``ASCEND_RT_VISIBLE_DEVICES``…). Its environment is the tenant's ``env`` plus ``PATH``, ``HOME=/work``,
  ``SUANLI_LEASE_ID``, ``SUANLI_JOB_ID`` (and, from :mod:`suanli.service.jobs`, the job's own
  ``SUANLI_TOKEN`` and ``SUANLI_SERVER`` for the API's socket at ``/run/suanli/api.sock``): never the
  server's own variables. Where no sandbox can be
  built, jobs are refused (:class:`EngineError`) unless the operator opted out (``SUANLI_SANDBOX=off``).
- Layout under ``data_dir`` (mode 0700, the server's): ``grants/<lease>.json``, ``jobs/<job>/`` (the
  server's, 0700: ``stdout.log`` and ``stderr.log``, which the job writes through inherited descriptors
  and cannot rename or replace, and ``work/``, the job's own 0700 work directory), ``accounting.jsonl``
  (one ``start`` and one ``end`` line per job, fsynced: usage survives a restart), ``health.json``
  (failed nodes/devices).
- Limits besides the cgroup: no core dumps, bounded open files; where no cgroup is available, memory
  as an address-space rlimit. Wall time and the lease end are enforced by a watcher thread per job;
  a job the kernel killed for its memory limit ends ``failed`` with the reason saying so.
- Termination (cancel, lease release, time limit, failed device): SIGTERM to the process group,
  SIGKILL to whatever is left after ``grace`` (and to everything left in the job's cgroup).
- A job still running when the driver stops keeps running; a new driver instance finds it by its
  process group and reports it ``running`` until it is gone, then ``lost`` (exit code unknown).
- ``fail_device`` / ``fail_node`` simulate hardware failure: running jobs on it end as
  ``node_fail``, new jobs there are refused, ``node_health`` reports it until ``restore_*``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from suanli.domain.clock import Clock, SystemClock, utc
from suanli.domain.defrag import NOTICE_ENV, NOTICE_FILE, RESTORED_ENV
from suanli.domain.slicing import Mechanism, job_env
from suanli.drivers.base import (
    Capabilities,
    Feature,
    GrantStore,
    JobHandle,
    JobSpec,
    JobState,
    JobStatus,
    JobUsage,
    LeaseGrant,
    NodeHealth,
    NodeState,
    ProvisionResult,
    atomic_write_json,
    check_lease_id,
    check_submit,
    conflict_if_changed,
    device_seconds,
    engine_error,
)
from suanli.drivers.cgroups import JobGroup
from suanli.drivers.devices.mig import MigError, MigInstances, NvidiaSmi
from suanli.drivers.devices.vnpu import NpuSmiVnpu, VnpuError, VnpuInstances
from suanli.drivers.sandbox import WORK, Isolation, Sandbox, runtime_ro_paths
from suanli.drivers.slice_probe import AUTO, resolve
from suanli.errors import ConflictError, NotFoundError, ValidationError

log = logging.getLogger(__name__)

SLICE_ENV = ("NVIDIA_VISIBLE_DEVICES", "ASCEND_VISIBLE_DEVICES", "SUANLI_VNPU_ID", "SUANLI_SLICE_ENFORCEMENT", "SUANLI_SLICE_SHARE_PCT", "SUANLI_SLICE_MEMORY_MIB",
             "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "CUDA_DEVICE_MEMORY_LIMIT",
             "CUDA_DEVICE_SM_LIMIT", "SUANLI_MIG_PROFILE", "SUANLI_MIG_GPU", "SUANLI_MIG_START", "SUANLI_VNPU_TEMPLATE")
"""Variables the driver sets from a slice's limits: a job may not set them itself."""

LOG_LIMIT = 1 << 20
"""``logs()`` returns at most the last MiB of each stream."""

JOB_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Job ids a caller may give to :meth:`LocalDriver.submit` (they name a directory)."""


@dataclass
class _Job:
    job_id: str
    lease_id: str
    node: str
    device_indices: tuple[int, ...]
    device_milli: tuple[int, ...]
    pgid: int
    start: datetime
    deadline: datetime | None
    state: JobState = JobState.RUNNING
    end: datetime | None = None
    exit_code: int | None = None
    reason: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    kill_state: JobState | None = None
    kill_reason: str | None = None
    group: JobGroup | None = None


def _group_alive(pgid: int) -> bool:
    """Any live (non-zombie) process in process group ``pgid``."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _tail(path: Path, limit: int = LOG_LIMIT) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return text if size <= limit else f"[... {size - limit} bytes cut ...]\n{text}"


class LocalDriver:
    """Runs each lease's jobs as local processes. Thread-safe."""

    name = "local"

    def __init__(self, data_dir: Path, *, nodes: Mapping[str, int] | None = None,
                 clock: Clock | None = None, grace: timedelta = timedelta(seconds=5),
                 open_files: int = 4096, sandbox: Sandbox | None = None,
                 slice_mechanisms: Iterable[Mechanism] | str = AUTO,
                 hami_library: Path | None = None, nvidia_smi: str | None = None, npu_smi: str | None = None) -> None:
        """``nodes``: node name -> device count this machine stands for (``None``: one node named
        after the host, any device index accepted). ``sandbox``: how jobs are confined (default: the
        required sandbox, probed now). ``slice_mechanisms``: what the node is set up to enforce slices
        with (docs/slices.md): ``auto`` (default) probes this node (:mod:`suanli.drivers.slice_probe`), a list
        is the operator's declaration; ``hami`` is added when ``hami_library`` (HAMi-core's ``libvgpu.so``)
        exists. ``nvidia_smi`` / ``npu_smi``: the tools that make a MIG slice's instance and a vNPU slice's
        vNPU before its job starts (default: found on ``PATH``)."""
        self.hami_library = hami_library
        if isinstance(slice_mechanisms, str):
            self.slice_probe = resolve(slice_mechanisms, nvidia_smi=nvidia_smi, npu_smi=npu_smi,
                                       hami_library=hami_library)
            self.slice_mechanisms = self.slice_probe.mechanisms
        else:
            self.slice_mechanisms = frozenset(slice_mechanisms) | (
                {Mechanism.HAMI} if hami_library is not None and hami_library.is_file() else set())
            self.slice_probe = resolve(",".join(m.value for m in self.slice_mechanisms), hami_library=hami_library)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.sandbox = sandbox or Sandbox()
        self.nodes: dict[str, int] | None = dict(nodes) if nodes is not None else None
        self._clock: Clock = clock or SystemClock()
        self.grace = grace
        self.open_files = open_files
        self._lock = threading.RLock()
        self._grants = GrantStore(self.data_dir / "grants")
        self._mig = MigInstances(NvidiaSmi(nvidia_smi), self.data_dir / "mig.json")
        self._vnpu = VnpuInstances(NpuSmiVnpu(npu_smi), self.data_dir / "vnpu.json")
        (self.data_dir / "jobs").mkdir(mode=0o700, exist_ok=True)
        self._acct = self.data_dir / "accounting.jsonl"
        self._health_path = self.data_dir / "health.json"
        self._jobs: dict[str, _Job] = {}
        self._specs: dict[str, JobSpec] = {}  # DEFRAG: what a moved job is started again with
        self._load_accounting()
        self._health: dict[str, Any] = self._load_health()

    # ------------------------------------------------------------------ protocol

    def capabilities(self) -> Capabilities:
        return Capabilities(
            driver=self.name,
            supported=frozenset({Feature.WHOLE_DEVICES, Feature.FRACTIONAL_DEVICES, Feature.SHARED_NODE,
                                 Feature.DEVICE_PINNING, Feature.FUTURE_START, Feature.OPEN_ENDED,
                                 Feature.MULTI_NODE, Feature.USAGE_ACCOUNTING, Feature.NODE_HEALTH,
                                 Feature.SERVE}),
            missing={Feature.RESOURCE_LIMITS: "local driver: CPU share, memory and processes are limited per "
                     f"job ({self.sandbox.status.cgroups or 'no cgroups: memory by rlimit only'}); a fractional "
                     "device's memory/compute share is held by the slice mechanisms only (docs/slices.md)"},
            slice_mechanisms=self.slice_mechanisms,
        )

    def provision(self, grant: LeaseGrant) -> ProvisionResult:
        with self._lock:
            existing = self._grants.get(grant.lease_id)
            if existing is not None:
                conflict_if_changed(existing, grant)
                return ProvisionResult(grant.lease_id, grant.lease_id, created=False)
            if self.nodes is not None:
                for a in grant.allocations:
                    if a.node not in self.nodes:
                        raise ValidationError(
                            f"lease {grant.lease_id}: node {a.node!r} is not run by this local driver; "
                            f"it runs {sorted(self.nodes)}", lease_id=grant.lease_id)
                    bad = [i for i in a.device_indices if i >= self.nodes[a.node]]
                    if bad:
                        raise ValidationError(
                            f"lease {grant.lease_id}: node {a.node} has devices 0..{self.nodes[a.node] - 1}; "
                            f"indices {bad} do not exist", lease_id=grant.lease_id)
            self._grants.put(grant)
            return ProvisionResult(grant.lease_id, grant.lease_id, created=True)

    def release(self, lease_id: str) -> None:
        check_lease_id(lease_id)
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.lease_id == lease_id and not j.state.terminal]
        self._terminate(jobs, JobState.CANCELLED, f"lease {lease_id} released")
        errors = self._release_slices(lease_id)
        if errors:  # the grant stays: releasing again retries what is left (the reconciler does)
            raise engine_error("; ".join(errors), engine=self.name, lease_id=lease_id)
        with self._lock:
            self._grants.delete(lease_id)

    def submit(self, lease_id: str, spec: JobSpec, *, job_id: str | None = None, restored: bool = False
               ) -> JobHandle:
        """``job_id``: the id to run the job under (a node agent passes the server's id; default: a
        fresh ``job-<12 hex>``). Submitting a known id again returns that job's handle and starts nothing.
        ``restored`` (:meth:`move` only): start it again in its kept work dir with ``SUANLI_RESTORED=1``."""
        check_lease_id(lease_id)
        if job_id is not None:
            if not JOB_ID_RE.fullmatch(job_id):
                raise ValidationError(f"job id {job_id!r} is not allowed; allowed: 1 to 64 of A-Z a-z 0-9 _ -",
                                      job_id=job_id)
            with self._lock:
                known = self._jobs.get(job_id)
            if known is not None:
                if known.lease_id != lease_id:
                    raise ConflictError(f"job {job_id} already runs under lease {known.lease_id}, not {lease_id}",
                                        job_id=job_id, lease_id=lease_id)
                return JobHandle(job_id=job_id, lease_id=lease_id, node=known.node,
                                 devices=len(known.device_indices), submitted_at=known.start)
        grant = self._grants.get(lease_id)
        if grant is None:
            raise engine_error("lease is not provisioned on the local driver (provision it first, or it "
                               "was released)", engine=self.name, lease_id=lease_id)
        now = utc(self._clock.now())
        alloc, devices = check_submit(grant, spec, now, driver=self.name)
        env_var = alloc.visible_devices_env
        reserved = {env_var, "SUANLI_LEASE_ID", "SUANLI_JOB_ID", *SLICE_ENV, NOTICE_ENV, RESTORED_ENV} & set(spec.env)
        if reserved:
            raise ValidationError(f"lease {lease_id}: job env may not set {sorted(reserved)}; the driver "
                                  "sets them from the lease", lease_id=lease_id)
        with self._lock:
            down = self._health.get("nodes", {}).get(alloc.node)
            if down is not None:
                raise ConflictError(f"lease {lease_id}: node {alloc.node} is down ({down}); no new jobs there",
                                    lease_id=lease_id, node=alloc.node)
            failed = self._failed_devices(alloc.node)
            healthy = [(i, m) for i, m in zip(alloc.device_indices, alloc.device_milli, strict=True)
                       if i not in failed]
            if len(healthy) < devices:
                raise ConflictError(
                    f"lease {lease_id}: device(s) {sorted(set(alloc.device_indices) & failed)} of node "
                    f"{alloc.node} failed; {len(healthy)} healthy device(s) left, the job asked for {devices}",
                    lease_id=lease_id, node=alloc.node)
            chosen = healthy[:devices]
            job_id = job_id or f"job-{uuid.uuid4().hex[:12]}"
        self.sandbox.require()
        extra_ro = runtime_ro_paths() if spec.runtime else ()
        hami = self._hami() if alloc.slice is not None and alloc.slice.enforcement == Mechanism.HAMI else None
        if hami is not None:  # HAMi-core preloaded into the job: the sandbox shows it the library, read-only
            extra_ro = (*extra_ro, Path(hami))
        self.sandbox.check_command(spec.command, spec.env, extra_ro=extra_ro)
        jobdir = self.data_dir / "jobs" / job_id
        notice = (str(jobdir / "work" / NOTICE_FILE) if self.sandbox.status.isolation is Isolation.OFF
                  else f"{WORK}/{NOTICE_FILE}")  # DEFRAG: docs/defrag.md "The job hook"
        env = {**spec.env, env_var: ",".join(str(i) for i, _ in chosen), "SUANLI_LEASE_ID": lease_id,
               "SUANLI_JOB_ID": job_id, NOTICE_ENV: notice}
        if restored:
            env[RESTORED_ENV] = "1"
        devices_seen = [i for i, _ in chosen]
        extra_devices: tuple[str, ...] = ()
        if alloc.slice is not None and chosen:  # the slice's limits (docs/slices.md "What the job receives")
            env |= job_env(alloc.slice, chosen[0][0], hami_library=hami)
            try:
                made = self._slice_instance(lease_id, alloc.node, alloc.slice.enforcement, chosen[0][0],
                                            alloc.slice.mig_start)
            except (MigError, VnpuError) as exc:  # never run unenforced: the job fails with the reason
                return self._failed_at_start(lease_id, alloc.node, chosen, job_id, now, spec, exc.message)
            if made is not None:
                extra, extra_devices = made
                env |= extra
                if "ASCEND_VISIBLE_DEVICES" in extra:  # the vNPU only, not the whole chip
                    devices_seen = []
        ends = [t for t in (grant.end, now + spec.time_limit if spec.time_limit else None) if t is not None]
        deadline = min(ends) if ends else None
        jobdir.mkdir(mode=0o700, exist_ok=restored)
        try:
            confined = self.sandbox.confine(
                job_id=job_id, tenant=grant.tenant, jobdir=jobdir, command=spec.command, env=env,
                vendor=alloc.vendor, devices=devices_seen, cpu_milli=alloc.cpu_milli or None,
                memory_mib=min((m for m in (alloc.host_memory_mib, spec.memory_mib) if m), default=None),
                extra_ro=extra_ro, extra_devices=extra_devices)
        except BaseException:
            shutil.rmtree(jobdir, ignore_errors=True)
            raise
        preexec = self._limits(spec, confined.fallback_memory_mib, confined.preexec)
        try:
            mode = "ab" if restored else "wb"
            with (jobdir / "stdout.log").open(mode) as out, (jobdir / "stderr.log").open(mode) as err:
                proc = subprocess.Popen(
                    confined.argv, cwd=confined.cwd, env=confined.env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err, start_new_session=True, preexec_fn=preexec, close_fds=True,
                    pass_fds=confined.pass_fds)
        except (OSError, subprocess.SubprocessError) as exc:
            if confined.group is not None:
                confined.group.remove()
            shutil.rmtree(jobdir, ignore_errors=True)
            raise ValidationError(f"lease {lease_id}: cannot start {spec.command[0]!r}: {exc}",
                                  lease_id=lease_id) from exc
        finally:
            confined.close()
        with self._lock:
            job = _Job(job_id=job_id, lease_id=lease_id, node=alloc.node,
                       device_indices=tuple(i for i, _ in chosen), device_milli=tuple(m for _, m in chosen),
                       pgid=proc.pid, start=now, deadline=deadline, proc=proc, group=confined.group)
            self._jobs[job_id] = job
            self._specs[job_id] = spec
            self._append({"event": "start", "job_id": job_id, "lease_id": lease_id, "node": alloc.node,
                          "device_indices": list(job.device_indices), "device_milli": list(job.device_milli),
                          "pgid": proc.pid, "start": now.isoformat(),
                          "deadline": deadline.isoformat() if deadline else None,
                          "name": spec.name, "command": list(spec.command), "cgroup": confined.group is not None})
        threading.Thread(target=self._watch, args=(job,), name=f"suanli-{job_id}", daemon=True).start()
        return JobHandle(job_id=job_id, lease_id=lease_id, node=alloc.node, devices=devices, submitted_at=now)

    def notify_move(self, lease_id: str, deadline: datetime, reason: str) -> list[str]:
        """DEFRAG: tell the lease's running jobs that it moves at ``deadline``: the notice file in each
        job's work dir (``$SUANLI_MOVE_NOTICE``), one JSON object. Returns the jobs told."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.lease_id == lease_id and not j.state.terminal]
        for j in jobs:
            work = self.work_dir(j.job_id)
            if work.is_dir():
                path = work / NOTICE_FILE
                atomic_write_json(path, {"deadline": utc(deadline).isoformat(), "reason": reason})
                owner = work.stat()  # the job's account owns its work dir: it must read (and may delete) the notice
                with contextlib.suppress(PermissionError):
                    os.chown(path, owner.st_uid, owner.st_gid)
                path.chmod(0o644)
        return [j.job_id for j in jobs]

    def move(self, grant: LeaseGrant) -> list[str]:
        """DEFRAG: the lease now holds ``grant``'s devices. Its running jobs get SIGTERM (they write their
        checkpoint in their work dir; SIGKILL after the grace), then start again under the same id, in
        the same work dir, on the new devices, with ``SUANLI_RESTORED=1``. Returns the jobs restarted."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.lease_id == grant.lease_id and not j.state.terminal]
        self._terminate(jobs, JobState.CANCELLED, "moved by defragmentation")
        self._release_slices(grant.lease_id)  # its MIG instance / vNPU is made again where it now runs
        with self._lock:
            self._grants.put(grant)
            for j in jobs:
                del self._jobs[j.job_id]
        for j in jobs:
            (self.work_dir(j.job_id) / NOTICE_FILE).unlink(missing_ok=True)
            self.submit(grant.lease_id, self._specs[j.job_id], job_id=j.job_id, restored=True)
        return [j.job_id for j in jobs]

    def _slice_instance(self, lease_id: str, node: str, enforcement: str, index: int, mig_start: int | None
                        ) -> tuple[dict[str, str], tuple[str, ...]] | None:
        """The MIG instance or vNPU a slice's job runs in (found or made now): its env and extra device nodes.
        ``None`` for the other mechanisms. Raises :class:`MigError` / :class:`VnpuError` (the job must not run)."""
        mech, _, detail = enforcement.partition(":")
        if mech == Mechanism.MIG:
            if mig_start is None:
                raise MigError(f"MIG instance {detail} on GPU {index} of node {node}: the lease records no placement "
                               "start (granted before MIG placement was recorded)")
            inst = self._mig.acquire(lease_id, node, index, detail, mig_start)
            # only the instance's own GI and CI capabilities: never mig/config (it would let the job remake instances)
            return {"CUDA_VISIBLE_DEVICES": inst.uuid, "NVIDIA_VISIBLE_DEVICES": inst.uuid}, inst.caps
        if mech == Mechanism.VNPU:
            v = self._vnpu.acquire(lease_id, node, index, detail)
            return ({"ASCEND_VISIBLE_DEVICES": str(v.vnpu_id), "SUANLI_VNPU_ID": str(v.vnpu_id)},
                    (f"vdavinci{v.vnpu_id}", "davinci_manager", "devmm_svm", "hisi_hdc"))
        return None

    def _release_slices(self, lease_id: str) -> list[str]:
        """Destroy the MIG instances / vNPUs suanli made for the lease (the operator's stay); the errors."""
        errors = [*self._mig.release(lease_id), *self._vnpu.release(lease_id)]
        for err in errors:
            log.warning("lease %s: %s", lease_id, err)
        return errors

    def _failed_at_start(self, lease_id: str, node: str, chosen: list[tuple[int, int]], job_id: str, now: datetime,
                         spec: JobSpec, reason: str) -> JobHandle:
        """A job that never started (its slice could not be set up): ended ``failed`` with ``reason`` at once."""
        job = _Job(job_id=job_id, lease_id=lease_id, node=node, device_indices=tuple(i for i, _ in chosen),
                   device_milli=tuple(m for _, m in chosen), pgid=0, start=now, deadline=None)
        with self._lock:
            self._jobs[job_id] = job
            self._specs[job_id] = spec
            self._append({"event": "start", "job_id": job_id, "lease_id": lease_id, "node": node,
                          "device_indices": list(job.device_indices), "device_milli": list(job.device_milli),
                          "pgid": 0, "start": now.isoformat(), "deadline": None, "name": spec.name,
                          "command": list(spec.command), "cgroup": False})
            self._finish(job, now, JobState.FAILED, None, f"not started: {reason}")
        return JobHandle(job_id=job_id, lease_id=lease_id, node=node, devices=len(chosen), submitted_at=now)

    def _hami(self) -> str | None:
        return str(self.hami_library) if Mechanism.HAMI in self.slice_mechanisms and self.hami_library else None

    def work_dir(self, job_id: str) -> Path:
        """The host directory a job sees as ``/work`` (a model replica's socket is there)."""
        return self.data_dir / "jobs" / job_id / "work"

    def poll(self, job_id: str) -> JobStatus:
        job = self._job(job_id)
        self._check_orphan(job)
        with self._lock:  # _finish sets state, end, exit code and reason together under it: no torn read
            return JobStatus(job_id=job.job_id, lease_id=job.lease_id, state=job.state, node=job.node,
                             device_indices=job.device_indices, start=job.start, end=job.end,
                             exit_code=job.exit_code, reason=job.reason)

    def cancel(self, job_id: str) -> None:
        job = self._job(job_id)
        self._terminate([job], JobState.CANCELLED, "cancelled by request")

    def logs(self, job_id: str) -> str:
        job = self._job(job_id)
        workdir = self.data_dir / "jobs" / job.job_id
        out, err = _tail(workdir / "stdout.log"), _tail(workdir / "stderr.log")
        return out if not err else f"{out}{'' if out.endswith(chr(10)) or not out else chr(10)}--- stderr ---\n{err}"

    def usage(self, since: datetime) -> list[JobUsage]:
        since = utc(since)
        with self._lock:
            jobs = list(self._jobs.values())
        for j in jobs:
            self._check_orphan(j)
        out = []
        for j in jobs:
            if j.end is None or j.end < since:
                continue
            elapsed = int((j.end - j.start).total_seconds())
            out.append(JobUsage(job_id=j.job_id, lease_id=j.lease_id, node=j.node,
                                device_indices=j.device_indices, devices=len(j.device_indices),
                                start=j.start, end=j.end, state=j.state, exit_code=j.exit_code,
                                device_seconds=device_seconds(elapsed, j.device_milli)))
        return sorted(out, key=lambda u: (u.end, u.job_id))

    def node_health(self) -> list[NodeHealth]:
        with self._lock:
            names: set[str] = set(self.nodes or {socket.gethostname(): 0})
            names |= {a.node for g in self._grants.all() for a in g.allocations}
            names |= set(self._health.get("nodes", {})) | set(self._health.get("devices", {}))
            names |= set(self._health.get("known", []))  # nodes that failed once stay reported (as up)
            result = []
            for n in sorted(names):
                down = self._health.get("nodes", {}).get(n)
                devs = self._health.get("devices", {}).get(n, {})
                if down is not None:
                    result.append(NodeHealth(n, NodeState.DOWN, down))
                elif devs:
                    reason = "; ".join(f"device {i} failed: {r}" for i, r in sorted(devs.items(), key=lambda x: int(x[0])))
                    result.append(NodeHealth(n, NodeState.UP, reason, tuple(sorted(int(i) for i in devs))))
                else:
                    result.append(NodeHealth(n, NodeState.UP))
            return result

    # ------------------------------------------------------------------ local extras

    def jobs(self, lease_id: str | None = None) -> list[JobStatus]:
        """Every job this driver knows (optionally one lease's), oldest first."""
        with self._lock:
            ids = [j.job_id for j in sorted(self._jobs.values(), key=lambda j: (j.start, j.job_id))
                   if lease_id is None or j.lease_id == lease_id]
        return [self.poll(i) for i in ids]

    def leases(self) -> list[LeaseGrant]:
        """The grants provisioned here now."""
        with self._lock:
            return sorted(self._grants.all(), key=lambda g: g.lease_id)

    def log_tails(self, job_id: str, limit: int = LOG_LIMIT) -> tuple[str, str]:
        """The last ``limit`` bytes of the job's stdout and of its stderr."""
        job = self._job(job_id)
        workdir = self.data_dir / "jobs" / job.job_id
        return _tail(workdir / "stdout.log", limit), _tail(workdir / "stderr.log", limit)

    def stop(self, job_ids: Iterable[str], state: JobState, reason: str) -> None:
        """End running jobs as ``state`` with ``reason`` (SIGTERM, SIGKILL after the grace): e.g. a node
        agent cut off from its server fences its jobs as ``failed``. Ended or unknown jobs are skipped."""
        if not state.terminal:
            raise ValueError(f"stop needs a terminal state, not {state.value}")
        with self._lock:
            jobs = [self._jobs[i] for i in job_ids if i in self._jobs]
        self._terminate(jobs, state, reason)

    def wait(self, job_id: str, timeout: float) -> JobStatus:
        """Block until the job ends or ``timeout`` seconds pass; return its status either way."""
        job = self._job(job_id)
        if job.proc is not None:
            job.done.wait(timeout)
        else:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self.poll(job_id).state.terminal:
                time.sleep(0.05)
        return self.poll(job_id)

    def fail_node(self, node: str, reason: str) -> None:
        """Mark ``node`` down: its running jobs end as ``node_fail``; new jobs there are refused."""
        with self._lock:
            self._health.setdefault("nodes", {})[node] = reason
            self._health["known"] = sorted({*self._health.get("known", []), node})
            self._save_health()
            jobs = [j for j in self._jobs.values() if j.node == node and not j.state.terminal]
        self._terminate(jobs, JobState.NODE_FAIL, f"node {node} failed: {reason}")

    def fail_device(self, node: str, index: int, reason: str) -> None:
        """Mark one device failed: jobs using it end as ``node_fail``; it is not handed out again."""
        with self._lock:
            self._health.setdefault("devices", {}).setdefault(node, {})[str(index)] = reason
            self._health["known"] = sorted({*self._health.get("known", []), node})
            self._save_health()
            jobs = [j for j in self._jobs.values()
                    if j.node == node and index in j.device_indices and not j.state.terminal]
        self._terminate(jobs, JobState.NODE_FAIL, f"device {index} of node {node} failed: {reason}")

    def restore_node(self, node: str) -> None:
        with self._lock:
            self._health.get("nodes", {}).pop(node, None)
            self._health.get("devices", {}).pop(node, None)
            self._save_health()

    def restore_device(self, node: str, index: int) -> None:
        with self._lock:
            devs = self._health.get("devices", {}).get(node, {})
            devs.pop(str(index), None)
            if not devs:
                self._health.get("devices", {}).pop(node, None)
            self._save_health()

    # ------------------------------------------------------------------ internals

    def _job(self, job_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} is not known to the local driver", job_id=job_id)
        return job

    def _limits(self, spec: JobSpec, memory_mib: int | None, enter: Callable[[], None]) -> Callable[[], None]:
        cpu_s = int(spec.time_limit.total_seconds()) * spec.cpus + 5 if spec.time_limit else None
        nofile = self.open_files
        memory = memory_mib << 20 if memory_mib else None

        def apply() -> None:  # runs in the child between fork and exec
            enter()
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            cap = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (cap, cap))
            if memory is not None:  # only where no cgroup holds the memory limit
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            if cpu_s is not None:
                resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))

        return apply

    def _watch(self, job: _Job) -> None:
        assert job.proc is not None
        while True:
            timeout: float | None = None
            if job.deadline is not None:
                left = (job.deadline - utc(self._clock.now())).total_seconds()
                if left <= 0 and job.kill_state is None:
                    why = "time limit reached" if job.deadline != self._lease_end(job) else "lease window ended"
                    threading.Thread(target=self._terminate, args=([job], JobState.TIMEOUT, why),
                                     daemon=True).start()
                    timeout = None
                else:
                    timeout = min(max(left, 0.05), 1.0)
            try:
                rc = job.proc.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        end = utc(self._clock.now())
        with self._lock:
            if job.kill_state is not None:
                state, reason = job.kill_state, job.kill_reason
            else:
                state = JobState.COMPLETED if rc == 0 else JobState.FAILED
                reason = None if rc == 0 else self._exit_reason(job, rc)
        self._clean_group(job)  # before the job is reported done: nothing of it is left then
        with self._lock:
            self._finish(job, end, state, rc, reason)

    def _exit_reason(self, job: _Job, rc: int) -> str:
        if job.group is not None and job.group.oom_killed():
            return "out of memory: the job went over its memory limit and the kernel killed it"
        if rc < 0:
            return f"killed by signal {-rc}"
        if rc > 128 and self.sandbox.status.isolation is not Isolation.OFF:  # bubblewrap reports 128 + signal
            return f"killed by signal {rc - 128}"
        return f"exit code {rc}"

    @staticmethod
    def _clean_group(job: _Job) -> None:
        """Kill what is left in the job's cgroup (e.g. daemonised children) and remove it."""
        if job.group is None:
            return
        job.group.kill()
        deadline = time.monotonic() + 5
        while job.group.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        job.group.remove()

    def _lease_end(self, job: _Job) -> datetime | None:
        grant = self._grants.get(job.lease_id)
        return grant.end if grant else None

    def _finish(self, job: _Job, end: datetime, state: JobState, rc: int | None, reason: str | None) -> None:
        if job.end is not None:
            return
        job.end, job.exit_code, job.reason = end, rc, reason
        job.state = state  # last: a terminal state is only ever seen with its end and reason
        self._append({"event": "end", "job_id": job.job_id, "end": end.isoformat(), "state": state.value,
                      "exit_code": rc, "reason": reason})
        job.done.set()

    def _terminate(self, jobs: Iterable[_Job], state: JobState, reason: str) -> None:
        """SIGTERM each job's process group, SIGKILL what is left after the grace period."""
        targets = []
        with self._lock:
            for job in jobs:
                if job.state.terminal:
                    continue
                if job.kill_state is None:
                    job.kill_state, job.kill_reason = state, reason
                targets.append(job)
        for job in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace.total_seconds()
        while targets and time.monotonic() < deadline and any(_group_alive(j.pgid) for j in targets):
            time.sleep(0.02)
        killed = [j for j in targets if _group_alive(j.pgid)]
        for job in killed:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously: wait for the exits
        while killed and time.monotonic() < deadline and any(_group_alive(j.pgid) for j in killed):
            time.sleep(0.01)
        for job in targets:
            if job.proc is not None:
                job.done.wait(self.grace.total_seconds() + 5)
            else:  # orphan from an earlier driver instance: nobody reaps it for us
                with self._lock:
                    self._finish(job, utc(self._clock.now()), state, None, reason)
                self._clean_group(job)

    def _check_orphan(self, job: _Job) -> None:
        """A job started by an earlier driver instance: settle it once its process group is gone."""
        if job.proc is None and not job.state.terminal and not _group_alive(job.pgid):
            with self._lock:
                self._finish(job, utc(self._clock.now()), JobState.LOST,
                             None, "the driver restarted while the job ran; its exit code is unknown")
            self._clean_group(job)

    def _append(self, record: Mapping[str, Any]) -> None:
        with self._acct.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _load_accounting(self) -> None:
        if not self._acct.exists():
            return
        for line in self._acct.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line after a crash
            if r.get("event") == "start":
                self._jobs[r["job_id"]] = _Job(
                    job_id=r["job_id"], lease_id=r["lease_id"], node=r["node"],
                    device_indices=tuple(r["device_indices"]), device_milli=tuple(r["device_milli"]),
                    pgid=r["pgid"], start=datetime.fromisoformat(r["start"]),
                    deadline=datetime.fromisoformat(r["deadline"]) if r.get("deadline") else None,
                    group=self.sandbox.job_group(r["job_id"]) if r.get("cgroup") else None)
            elif r.get("event") == "end" and r["job_id"] in self._jobs:
                j = self._jobs[r["job_id"]]
                if j.end is not None:
                    continue  # the first end record wins
                j.end, j.state = datetime.fromisoformat(r["end"]), JobState(r["state"])
                j.exit_code, j.reason = r.get("exit_code"), r.get("reason")
                j.done.set()

    def _load_health(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._health_path.read_text(encoding="utf-8"))
            return data
        except FileNotFoundError:
            return {"nodes": {}, "devices": {}}

    def _save_health(self) -> None:
        atomic_write_json(self._health_path, self._health)

    def _failed_devices(self, node: str) -> set[int]:
        return {int(i) for i in self._health.get("devices", {}).get(node, {})}

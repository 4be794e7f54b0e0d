"""The Slurm driver: a lease is a Slurm reservation; tenant jobs run inside it.

Mapping (Slurm 22.05, checked against a running cluster):

- **Lease -> reservation** ``<prefix><lease_id>`` (``scontrol create reservation``) on exactly the
  grant's nodes, ``Accounts=<tenant>``, ``StartTime``/``EndTime`` = the lease window
  (``StartTime=now`` once it has begun; ``Duration=UNLIMITED`` for an open-ended lease, which
  Slurm turns into 365 days). Slurm 22.05 cannot reserve GRES (``TRES=gres/gpu`` is rejected:
  "TRES type 'gres/gpu' not supported with reservations"), so a lease of *all* GPUs of a node
  reserves the whole node, and a lease of *some* GPUs reserves a proportional share of the
  node's cores (``CoreCnt``) and the driver refuses jobs that would take more GPUs on that node
  than the lease holds (running + pending jobs counted). Slurm itself keeps GPUs of concurrent
  jobs disjoint, but it picks the indices: a job gets *as many* GPUs as asked, not the grant's
  indices (declared as the missing ``device_pinning`` capability); the indices it got are
  reported (``IDX``) and recorded.
- **Tenant** = Slurm account, and its jobs run as the tenant's own Unix account
  ``unix_name(tenant)`` (:mod:`suanli.drivers.unix_accounts`), never as the server's user: the
  driver (root) creates that account on first use; with ``manage_accounts`` it also creates the
  Slurm account and that user's association (``sacctmgr``). The reservation names both
  (``Accounts=<tenant> Users=suanli-<tenant>``), so Slurm itself refuses a job of any other
  account or user in it, root's included ("Access denied to requested reservation"). Submitting
  as the tenant: slurmrestd gets the tenant's user name with the server's own token (a token of
  root/``SlurmUser`` may act as any user; anyone else's is refused by Slurm), ``sbatch`` runs
  as the tenant's uid/gid/groups. Status, cancel, release and ``sacct`` stay the server's (root
  sees and cancels every job). Where the server is not root it refuses (``EngineError`` saying
  so) unless ``run_as_tenant=False`` (single-user development: jobs run as the server's user).
  Work dirs and logs: :mod:`suanli.drivers.slurm.tenancy` (tenant-owned ``0700``, read back
  without following links).
- **Jobs** go in with ``--reservation``, ``--account``, ``--gres=gpu[:<type>]:<n>``, a time limit
  inside the lease window, job name ``<prefix><lease_id>`` (how a job id maps back to its lease,
  in the controller and in ``sacct``), a clean environment and a small wrapper script that
  records the node and ``SLURM_JOB_GPUS`` next to the logs.
- **Release** = ``scancel --reservation``, wait for the jobs to end, ``scontrol delete
  reservation``.

Which interface for what (slurmrestd v0.0.38 vs the CLI):

=========================  ==================  ============================================
operation                  via                 why
=========================  ==================  ============================================
job submit                 slurmrestd          ``POST /job/submit`` takes reservation,
                                               account, gres, limits; JSON answer. CLI
                                               ``sbatch`` when the job must be pinned to one
                                               node of a multi-node lease (v0.0.38 has no
                                               node list on submit) or no REST URL is set.
job status / cancel        slurmrestd          ``GET``/``DELETE /job/{id}`` (``gres_detail``
                                               gives IDX); CLI ``scontrol``/``scancel``
                                               fallback.
nodes, partitions          slurmrestd          ``GET /nodes``, ``/partitions``; CLI fallback.
reservations               CLI ``scontrol``    v0.0.38 has only ``GET /reservations``: no
                                               create, update or delete.
cancel a lease's jobs      CLI ``scancel -R``  one call per reservation; REST cancels by id.
accounts, associations     CLI ``sacctmgr``    dbv0.0.38 could, but needs slurmdbd JWT
                                               config; sacctmgr works wherever Slurm does.
usage                      CLI ``sacct``       ``-P`` output with ``AllocTRES`` (gres/gpu),
                                               ``ElapsedRaw``, time window filter.
JWT for slurmrestd         CLI ``scontrol``    ``scontrol token`` mints it.
=========================  ==================  ============================================

All CLI calls have timeouts (``sinfo`` and friends block while slurmctld is down) and fail as
``EngineError`` with Slurm's words; unreachable -> ``retryable=True``.

Assumptions: the driver runs on a Slurm submit host as a Slurm operator (``scontrol create
reservation`` needs operator rights), ``job_dir`` is on a file system the compute nodes share,
and the controller's time zone is this host's (Slurm prints and parses local time).
"""

from __future__ import annotations

import getpass
import math
import re
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from suanli.domain.clock import Clock, SystemClock, utc
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
    ProvisionResult,
    check_lease_id,
    check_submit,
    conflict_if_changed,
    engine_error,
)
from suanli.drivers.slurm.cli import (
    SlurmCli,
    epoch_time,
    expand_hostlist,
    expand_indices,
    first_word,
    gres_count,
    gres_indices,
    join_argv,
    parse_kv,
    parse_records,
    parse_slurm_time,
    slurm_time,
)
from suanli.drivers.slurm.fleet import (
    SlurmFleet,
    SlurmNode,
    node_from_kv,
    node_from_rest,
    node_health,
    partition_from_kv,
    partition_from_rest,
)
from suanli.drivers.slurm.rest import SlurmRest
from suanli.drivers.slurm.tenancy import lease_dir, prepare_job_dir, read_job_file, runner
from suanli.errors import ConflictError, EngineError, NotFoundError, ValidationError

JOB_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_STATES: dict[str, JobState] = {
    "PENDING": JobState.PENDING, "CONFIGURING": JobState.PENDING, "REQUEUED": JobState.PENDING,
    "REQUEUE_HOLD": JobState.PENDING, "REQUEUE_FED": JobState.PENDING, "RESV_DEL_HOLD": JobState.PENDING,
    "RUNNING": JobState.RUNNING, "COMPLETING": JobState.RUNNING, "SUSPENDED": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING, "SIGNALING": JobState.RUNNING, "RESIZING": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED, "FAILED": JobState.FAILED, "OUT_OF_MEMORY": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED, "DEADLINE": JobState.FAILED, "SPECIAL_EXIT": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED, "PREEMPTED": JobState.CANCELLED, "REVOKED": JobState.CANCELLED,
    "TIMEOUT": JobState.TIMEOUT, "NODE_FAIL": JobState.NODE_FAIL,
}
_ACTIVE = "PD,CF,R,CG,S,RQ,RH,RD,SO"


def job_state(slurm_state: str) -> JobState:
    return _STATES.get(first_word(slurm_state).upper(), JobState.LOST)


@dataclass(frozen=True)
class SlurmConfig:
    state_dir: Path
    """The driver's own files (grants), local to the server."""
    job_dir: Path
    """Per-lease working directories, job logs and GPU records; must be shared with the compute nodes."""
    rest_url: str | None = None
    """slurmrestd with ``rest_auth/jwt``, e.g. ``http://127.0.0.1:6820``; ``None`` = CLI only."""
    user: str = field(default_factory=getpass.getuser)
    """Slurm user the platform acts as (REST token user; jobs run as it only without ``run_as_tenant``)."""
    jwt: str | None = None
    """A fixed slurmrestd token; ``None`` = mint one with ``scontrol token``."""
    partition: str | None = None
    gres_name: str = "gpu"
    manage_accounts: bool = True
    """Create missing tenant accounts and associations with ``sacctmgr``."""
    accounting: bool = True
    """slurmdbd present (``sacct`` usage); ``False`` declares usage accounting missing."""
    reservation_prefix: str = "suanli-"
    command_timeout_s: float = 15.0
    release_timeout_s: float = 30.0
    slurm_env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for the Slurm tools (e.g. ``SLURM_CONF``)."""
    run_as_tenant: bool = True
    """Jobs run as the tenant's own Unix account (needs root). ``False`` only for single-user
    development (the sandbox off): jobs then run as the server's user."""


class SlurmDriver:
    name = "slurm"

    def __init__(self, config: SlurmConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self._clock: Clock = clock or SystemClock()
        self.cli = SlurmCli(timeout_s=config.command_timeout_s, env=dict(config.slurm_env))
        self.rest = (SlurmRest(url=config.rest_url, user=config.user, cli=self.cli, jwt=config.jwt,
                               timeout_s=config.command_timeout_s) if config.rest_url else None)
        self._grants = GrantStore(Path(config.state_dir) / "grants")
        prepare_job_dir(Path(config.job_dir), private=config.run_as_tenant)

    # ------------------------------------------------------------------ protocol

    def capabilities(self) -> Capabilities:
        supported = {Feature.WHOLE_DEVICES, Feature.SHARED_NODE, Feature.FUTURE_START, Feature.OPEN_ENDED,
                     Feature.MULTI_NODE, Feature.NODE_HEALTH, Feature.RESOURCE_LIMITS}
        missing = {
            Feature.FRACTIONAL_DEVICES: "fractional GPU: not supported by this Slurm configuration (no "
            "shard/MPS GRES, and Slurm 22.05 reservations cannot hold part of a GPU)",
            Feature.DEVICE_PINNING: "Slurm 22.05 picks GPU indices itself: a job gets as many GPUs of the "
            "lease's node as it asks for, not the grant's indices (the indices it got are reported)",
            Feature.SERVE: "Slurm jobs run on compute nodes: the server cannot reach a model replica's Unix "
            "socket there (model deployments run on the local engine)",
        }
        if self.config.accounting:
            supported.add(Feature.USAGE_ACCOUNTING)
        else:
            missing[Feature.USAGE_ACCOUNTING] = "no slurmdbd: sacct has no GPU accounting (AllocTRES)"
        return Capabilities(driver=self.name, supported=frozenset(supported), missing=missing)

    def provision(self, grant: LeaseGrant) -> ProvisionResult:
        caps = self.capabilities()
        if not all(a.whole for a in grant.allocations):
            caps.require(Feature.FRACTIONAL_DEVICES, grant.lease_id)
        now = utc(self._clock.now())
        if grant.end is not None and grant.end <= now:
            raise ValidationError(f"lease {grant.lease_id} ended at {grant.end.isoformat()}; nothing to provision",
                                  lease_id=grant.lease_id)
        runs_as = runner(grant.tenant, grant.lease_id) if self.config.run_as_tenant else None
        resv = self.reservation_name(grant.lease_id)
        existing = self._grants.get(grant.lease_id)
        if existing is not None:
            conflict_if_changed(existing, grant)
        current = self._reservation(resv, grant.lease_id)
        if current is not None:
            have = sorted(expand_hostlist(current.get("Nodes", "")))
            if have != sorted(a.node for a in grant.allocations):
                raise ConflictError(
                    f"lease {grant.lease_id}: reservation {resv} already exists in Slurm on nodes {have}, "
                    f"not on the granted {sorted(a.node for a in grant.allocations)}", lease_id=grant.lease_id)
            if existing is None:
                self._grants.put(grant)
            return ProvisionResult(grant.lease_id, resv, created=False)

        nodes = {n.name: n for n in self._nodes(grant.lease_id)}
        cores: list[int] = []
        notes: list[str] = []
        partial = False
        for a in grant.allocations:
            node = nodes.get(a.node)
            if node is None:
                raise ValidationError(f"lease {grant.lease_id}: node {a.node!r} is not in this Slurm cluster; "
                                      f"it has {sorted(nodes)}", lease_id=grant.lease_id)
            total = node.gres_total(self.config.gres_name)
            bad = [i for i in a.device_indices if i >= total]
            if bad:
                raise ValidationError(
                    f"lease {grant.lease_id}: node {a.node} has {total} {self.config.gres_name} GRES "
                    f"(indices 0..{total - 1}); indices {bad} do not exist", lease_id=grant.lease_id)
            if a.model and a.model not in node.gres_types(self.config.gres_name):
                raise ValidationError(
                    f"lease {grant.lease_id}: node {a.node} has GRES types {list(node.gres_types())}, "
                    f"not {a.model!r}", lease_id=grant.lease_id)
            if a.device_count < total:
                partial = True
                share = max(1, node.cores * a.device_count // max(total, 1))
                cores.append(share)
                notes.append(f"{a.node}: {a.device_count} of {total} GPUs; reserved {share} of {node.cores} "
                             "cores, GPU count enforced by the driver")
            else:
                cores.append(node.cores)
        if grant.end is None:
            notes.append("open-ended: Slurm holds the reservation for 365 days")
        notes.append("GPU indices are chosen by Slurm within the node (device_pinning not supported)")

        self._grants.put(grant)
        try:
            if self.config.manage_accounts:
                self._ensure_account(grant.tenant, grant.lease_id, runs_as.name if runs_as else self.config.user)
            args = [f"ReservationName={resv}",
                    f"Nodes={','.join(a.node for a in grant.allocations)}",
                    "StartTime=" + ("now" if grant.start <= now else slurm_time(grant.start)),
                    ("Duration=UNLIMITED" if grant.end is None else f"EndTime={slurm_time(grant.end)}"),
                    f"Accounts={grant.tenant}"]
            if runs_as is not None:  # both given: a job must match both (root's own jobs are refused too)
                args.append(f"Users={runs_as.name}")
            if partial:
                args.append(f"CoreCnt={','.join(str(c) for c in cores)}")
            if self.config.partition:
                args.append(f"PartitionName={self.config.partition}")
            self._retry_invalid_account(lambda: self.cli.run("scontrol", "create", "reservation", *args,
                                                             lease_id=grant.lease_id))
        except BaseException:
            if existing is None:
                self._grants.delete(grant.lease_id)
            raise
        return ProvisionResult(grant.lease_id, resv, created=True, notes=tuple(notes))

    def release(self, lease_id: str) -> None:
        resv = self.reservation_name(lease_id)
        if self._reservation(resv, lease_id) is not None:
            self.cli.run("scancel", f"--reservation={resv}", lease_id=lease_id, check=False)
            deadline = time.monotonic() + self.config.release_timeout_s
            while True:  # a reservation with jobs in it cannot be deleted: wait for them to end
                left = self._active_jobs(resv, lease_id)
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            while True:
                proc = self.cli.run("scontrol", "delete", f"reservation={resv}", lease_id=lease_id, check=False)
                words = (proc.stderr or proc.stdout).strip()
                if proc.returncode == 0 or "invalid" in words.lower() or "not found" in words.lower():
                    break
                if time.monotonic() > deadline:
                    raise engine_error(f"slurm would not delete reservation {resv}", engine="slurm",
                                       engine_message=words, lease_id=lease_id, retryable=True)
                self.cli.run("scancel", f"--reservation={resv}", lease_id=lease_id, check=False)
                time.sleep(0.2)
        self._grants.delete(lease_id)

    def submit(self, lease_id: str, spec: JobSpec) -> JobHandle:
        check_lease_id(lease_id)
        grant = self._grants.get(lease_id)
        if grant is None:
            raise engine_error("lease is not provisioned on slurm (no reservation was made for it, or it was "
                               "released); provision the lease before submitting jobs", engine="slurm",
                               lease_id=lease_id)
        now = utc(self._clock.now())
        alloc, devices = check_submit(grant, spec, now, driver=self.name)
        runs_as = runner(grant.tenant, lease_id) if self.config.run_as_tenant else None
        reserved = {alloc.visible_devices_env, "SUANLI_LEASE_ID", "SUANLI_JOB_ID"} & set(spec.env)
        if reserved:
            raise ValidationError(f"lease {lease_id}: job env may not set {sorted(reserved)}; the driver "
                                  "sets them from the lease", lease_id=lease_id)
        resv = self.reservation_name(lease_id)
        if self._reservation(resv, lease_id) is None:
            raise engine_error(f"reservation {resv} is missing in Slurm (deleted outside suanli?); "
                               "provision the lease again", engine="slurm", lease_id=lease_id)
        node = next((n for n in self._nodes(lease_id) if n.name == alloc.node), None)
        total = node.gres_total(self.config.gres_name) if node else alloc.device_count
        if devices and alloc.device_count < total:
            used = self._gpus_in_use(resv, alloc.node, single_node=len(grant.allocations) == 1, lease_id=lease_id)
            if used + devices > alloc.device_count:
                raise ConflictError(
                    f"lease {lease_id} holds {alloc.device_count} GPU(s) on node {alloc.node}; its running and "
                    f"pending jobs already use {used}, so a job for {devices} more would take GPUs outside "
                    f"the lease. Wait for them to end or ask for at most {max(alloc.device_count - used, 0)}.",
                    lease_id=lease_id, held=alloc.device_count, in_use=used)
        if spec.time_limit is not None:
            minutes: int | None = max(1, math.ceil(spec.time_limit.total_seconds() / 60))
        elif grant.end is not None:
            minutes = int((grant.end - now).total_seconds() // 60)
            if minutes < 1:
                raise ConflictError(f"lease {lease_id} ends at {grant.end.isoformat()}, in under a minute; "
                                    "Slurm time limits are whole minutes", lease_id=lease_id)
        else:
            minutes = None
        workdir = lease_dir(Path(self.config.job_dir), lease_id, runs_as)
        gres = None
        if devices:
            gres = ":".join([self.config.gres_name, *([alloc.model] if alloc.model else []), str(devices)])
        script = self._script(lease_id, spec, workdir, alloc.visible_devices_env, devices)
        job_name = self.reservation_name(lease_id)
        if self.rest is not None and len(grant.allocations) == 1:
            job: dict[str, Any] = {
                "name": job_name, "account": grant.tenant, "reservation": resv,
                "current_working_directory": str(workdir), "environment": {"PATH": JOB_PATH},
                "standard_output": str(workdir / "slurm-%j.out"), "standard_error": str(workdir / "slurm-%j.err"),
                "cpus_per_task": spec.cpus, "comment": spec.name or "",
            }
            if self.config.partition:
                job["partition"] = self.config.partition
            if gres:
                job["gres"] = gres
            if minutes is not None:
                job["time_limit"] = minutes
            if spec.memory_mib:
                job["memory_per_node"] = spec.memory_mib
            job_id = str(self.rest.submit(job, script, lease_id=lease_id, as_user=runs_as.name if runs_as else None))
        else:
            args = ["--parsable", f"--job-name={job_name}", f"--account={grant.tenant}", f"--reservation={resv}",
                    f"--chdir={workdir}", f"--output={workdir}/slurm-%j.out", f"--error={workdir}/slurm-%j.err",
                    f"--cpus-per-task={spec.cpus}", "--export=NONE", f"--comment={spec.name or ''}"]
            if len(grant.allocations) > 1:
                args += [f"--nodelist={alloc.node}", "--nodes=1"]
            if self.config.partition:
                args.append(f"--partition={self.config.partition}")
            if gres:
                args.append(f"--gres={gres}")
            if minutes is not None:
                args.append(f"--time={minutes}")
            if spec.memory_mib:
                args.append(f"--mem={spec.memory_mib}M")
            out = self.cli.run("sbatch", *args, lease_id=lease_id, input=script, as_user=runs_as).stdout.strip()
            job_id = out.split(";", 1)[0]
        return JobHandle(job_id=job_id, lease_id=lease_id, node=alloc.node, devices=devices, submitted_at=now)

    def poll(self, job_id: str) -> JobStatus:
        rec = self._job_record(job_id)
        return self._status(job_id, rec)

    def cancel(self, job_id: str) -> None:
        st = self.poll(job_id)
        if st.state.terminal:
            return
        if self.rest is not None:
            self.rest.cancel(job_id, lease_id=st.lease_id)
        else:
            self.cli.run("scancel", job_id, lease_id=st.lease_id)

    def logs(self, job_id: str) -> str:
        st = self.poll(job_id)
        parts = []
        for suffix, label in (("out", None), ("err", "--- stderr ---")):
            text = read_job_file(Path(self.config.job_dir), st.lease_id, f"slurm-{job_id}.{suffix}")
            if text:
                parts.append(text if label is None else f"{label}\n{text}")
        return "\n".join(p.rstrip("\n") for p in parts) + ("\n" if parts else "")

    def usage(self, since: datetime) -> list[JobUsage]:
        since = utc(since)
        out = self.cli.run("sacct", "-X", "-n", "-P", "-a", f"-S{slurm_time(since)}", "-Enow",
                           "-oJobID,JobName,State,AllocTRES,Start,End,ElapsedRaw,NodeList,ExitCode").stdout
        records = []
        for line in out.splitlines():
            bits = line.split("|")
            if len(bits) != 9:
                continue
            jid, name, state, tres, start_s, end_s, elapsed, nodelist, exit_code = bits
            lease_id = self._lease_of(name)
            st = job_state(state)
            start, end = parse_slurm_time(start_s), parse_slurm_time(end_s)
            if lease_id is None or not st.terminal or start is None or end is None or end < since:
                continue
            gpus = gres_count(tres, self.config.gres_name)
            recorded = self._recorded_gpus(lease_id, jid)
            nodes = expand_hostlist(nodelist)
            seconds = int(elapsed) if elapsed.isdigit() else int((end - start).total_seconds())
            records.append(JobUsage(
                job_id=jid, lease_id=lease_id, node=nodes[0] if len(nodes) == 1 else (nodelist or None),
                device_indices=recorded[1] if recorded else (), devices=gpus, start=start, end=end, state=st,
                exit_code=_exit_code(exit_code), device_seconds=Decimal(seconds * gpus)))
        return sorted(records, key=lambda u: (u.end, u.job_id))

    def node_health(self) -> list[NodeHealth]:
        return [node_health(n) for n in self._nodes(None)]

    # ------------------------------------------------------------------ Slurm extras

    def reservation_name(self, lease_id: str) -> str:
        return f"{self.config.reservation_prefix}{check_lease_id(lease_id)}"

    def check(self) -> None:
        """Raise ``EngineError`` unless slurmctld (and slurmrestd when configured) answer."""
        self.cli.run("scontrol", "ping")
        if self.rest is not None:
            self.rest.ping()

    def reservation(self, lease_id: str) -> dict[str, str] | None:
        """Slurm's record of the lease's reservation (``scontrol show reservation`` fields)."""
        return self._reservation(self.reservation_name(lease_id), lease_id)

    def import_fleet(self) -> SlurmFleet:
        """Nodes (CPUs, cores, memory, GRES, partitions, state) and partitions of the running cluster."""
        nodes = tuple(self._nodes(None))
        if self.rest is not None:
            parts = tuple(partition_from_rest(p) for p in self.rest.partitions())
        else:
            parts = tuple(partition_from_kv(kv) for kv in parse_records(
                self.cli.run("scontrol", "-o", "show", "partition").stdout))
        cluster = None
        for line in self.cli.run("scontrol", "show", "config").stdout.splitlines():
            if line.startswith("ClusterName"):
                cluster = line.split("=", 1)[1].strip()
        return SlurmFleet(cluster=cluster, nodes=nodes, partitions=parts)

    # ------------------------------------------------------------------ internals

    def _lease_of(self, job_name: str) -> str | None:
        prefix = self.config.reservation_prefix
        return job_name[len(prefix):] if job_name.startswith(prefix) and len(job_name) > len(prefix) else None

    def _nodes(self, lease_id: str | None) -> list[SlurmNode]:
        if self.rest is not None:
            return [node_from_rest(n) for n in self.rest.nodes()]
        return [node_from_kv(kv) for kv in parse_records(self.cli.run("scontrol", "-o", "show", "node",
                                                                      lease_id=lease_id).stdout)]

    def _reservation(self, resv: str, lease_id: str | None) -> dict[str, str] | None:
        proc = self.cli.run("scontrol", "-o", "show", "reservation", resv, lease_id=lease_id, check=False)
        if proc.returncode != 0:
            words = (proc.stderr or proc.stdout).strip()
            if "not found" in words.lower():
                return None
            self.cli.run("scontrol", "-o", "show", "reservation", resv, lease_id=lease_id)  # raises
        for kv in parse_records(proc.stdout):
            if kv.get("ReservationName") == resv:
                return kv
        return None

    def _active_jobs(self, resv: str, lease_id: str) -> list[dict[str, str]]:
        out = self.cli.run("squeue", "-h", f"--reservation={resv}", f"-t{_ACTIVE}", "-o%i|%T|%N|%b",
                           lease_id=lease_id, check=False).stdout
        rows = []
        for line in out.splitlines():
            bits = line.split("|")
            if len(bits) == 4:
                rows.append({"id": bits[0], "state": bits[1], "nodes": bits[2], "gres": bits[3]})
        return rows

    def _gpus_in_use(self, resv: str, node: str, *, single_node: bool, lease_id: str) -> int:
        used = 0
        for row in self._active_jobs(resv, lease_id):
            nodes = expand_hostlist(row["nodes"])
            if node in nodes or (not nodes and single_node) or (not nodes and not single_node):
                used += gres_count(row["gres"], self.config.gres_name)
        return used

    def _ensure_account(self, account: str, lease_id: str, user: str) -> None:
        """Slurm account ``account`` and ``user``'s association with it (idempotent)."""
        have = self.cli.run("sacctmgr", "-n", "-P", "show", "account", account, "format=Account",
                            lease_id=lease_id).stdout.split()
        if account not in have:
            self.cli.run("sacctmgr", "-i", "add", "account", account, "Organization=suanli",
                         f"Description=suanli tenant {account}", lease_id=lease_id)
        assoc = self.cli.run("sacctmgr", "-n", "-P", "show", "assoc", f"account={account}",
                             f"user={user}", "format=User", lease_id=lease_id).stdout.split()
        if user not in assoc:
            self.cli.run("sacctmgr", "-i", "add", "user", user, f"Account={account}", lease_id=lease_id)

    def _retry_invalid_account(self, fn: Any) -> None:
        """slurmctld learns new accounts and users from slurmdbd asynchronously: retry those refusals
        ("Invalid account", "Invalid user id") briefly."""
        deadline = time.monotonic() + 10
        while True:
            try:
                fn()
                return
            except EngineError as exc:
                words = str(exc).lower()
                if not ("invalid account" in words or "invalid user id" in words) or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def _script(self, lease_id: str, spec: JobSpec, workdir: Path, env_var: str, devices: int) -> str:
        lines = ["#!/bin/bash", f"# suanli lease {lease_id}", f"export PATH={JOB_PATH}",
                 f"export HOME={shlex.quote(str(workdir))}"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in spec.env.items()]
        lines.append(f"export SUANLI_LEASE_ID={shlex.quote(lease_id)} SUANLI_JOB_ID=$SLURM_JOB_ID")
        if devices == 0:
            lines.append(f"export {env_var}=")
        elif env_var != "CUDA_VISIBLE_DEVICES":
            lines.append(f'export {env_var}="${{CUDA_VISIBLE_DEVICES-${{SLURM_JOB_GPUS-}}}}"')
        lines.append(f'printf "%s %s\\n" "${{SLURMD_NODENAME-}}" "${{SLURM_JOB_GPUS-}}" > '
                     f'{shlex.quote(str(workdir))}/.gpus-$SLURM_JOB_ID')
        lines.append(f"exec {join_argv(spec.command)}")
        return "\n".join(lines) + "\n"

    def _recorded_gpus(self, lease_id: str, job_id: str) -> tuple[str, tuple[int, ...]] | None:
        text = (read_job_file(Path(self.config.job_dir), lease_id, f".gpus-{job_id}") or "").split()
        try:  # the job (the tenant) wrote it: garbage is no record, never an error
            return (text[0], expand_indices(text[1]) if len(text) > 1 else ()) if text else None
        except ValueError:
            return None

    def _job_record(self, job_id: str) -> dict[str, Any]:
        """The job as a flat dict: controller first (REST or scontrol), sacct when it has forgotten."""
        if not re.fullmatch(r"\d+", job_id or ""):
            raise NotFoundError(f"job {job_id!r} is not a Slurm job id (digits)", job_id=job_id)
        if self.rest is not None:
            raw = self.rest.job(job_id)
            if raw is not None:
                end = epoch_time(raw.get("end_time"))
                return {"name": raw.get("name", ""), "state": raw.get("job_state", ""),
                        "nodes": raw.get("nodes", ""), "gres": " ".join(raw.get("gres_detail") or []),
                        "start": epoch_time(raw.get("start_time")), "end": end,
                        "exit": raw.get("exit_code"), "reason": raw.get("state_reason")}
        else:
            proc = self.cli.run("scontrol", "-o", "-d", "show", "job", job_id, check=False)
            if proc.returncode == 0 and proc.stdout.strip():
                kv = parse_kv(proc.stdout.splitlines()[0])
                return {"name": kv.get("JobName", ""), "state": kv.get("JobState", ""),
                        "nodes": kv.get("NodeList", ""), "gres": kv.get("GRES", ""),
                        "start": parse_slurm_time(kv.get("StartTime")), "end": parse_slurm_time(kv.get("EndTime")),
                        "exit": _exit_code(kv.get("ExitCode", "")), "reason": kv.get("Reason")}
            words = (proc.stderr or proc.stdout).strip()
            if "invalid job id" not in words.lower():
                self.cli.run("scontrol", "-o", "-d", "show", "job", job_id)  # raises with Slurm's words
        if self.config.accounting:
            out = self.cli.run("sacct", "-X", "-n", "-P", "-j", job_id,
                               "-oJobName,State,NodeList,Start,End,ExitCode").stdout.strip().splitlines()
            if out:
                f = (out[0].split("|") + [""] * 6)[:6]
                return {"name": f[0], "state": f[1], "nodes": f[2], "gres": "",
                        "start": parse_slurm_time(f[3]), "end": parse_slurm_time(f[4]),
                        "exit": _exit_code(f[5]), "reason": None}
        raise NotFoundError(f"Slurm does not know job {job_id}", job_id=job_id)

    def _status(self, job_id: str, rec: Mapping[str, Any]) -> JobStatus:
        lease_id = self._lease_of(str(rec.get("name") or ""))
        if lease_id is None:
            raise NotFoundError(f"Slurm job {job_id} was not submitted by suanli (job name "
                                f"{rec.get('name')!r})", job_id=job_id)
        state = job_state(str(rec.get("state") or ""))
        nodes = expand_hostlist(str(rec.get("nodes") or ""))
        indices = gres_indices(str(rec.get("gres") or ""))
        if not indices:
            recorded = self._recorded_gpus(lease_id, job_id)
            indices = recorded[1] if recorded else ()
        reason = rec.get("reason")
        return JobStatus(
            job_id=job_id, lease_id=lease_id, state=state,
            node=nodes[0] if len(nodes) == 1 else (",".join(nodes) or None), device_indices=indices,
            start=rec.get("start") if state is not JobState.PENDING else None,
            end=rec.get("end") if state.terminal else None,
            exit_code=rec.get("exit") if state.terminal else None,
            reason=None if reason in (None, "", "None") else str(reason))


def _exit_code(text: object) -> int | None:
    """``2:0`` -> 2; ``0:15`` (killed by signal 15) -> -15; ints pass through."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"(\d+):(\d+)", str(text or "").strip())
    if not m:
        return None
    code, sig = int(m.group(1)), int(m.group(2))
    return -sig if code == 0 and sig else code

"""What an agent node is asked to run, and what it reports back (wire routes 3 and 4, docs/agents.md).

- :func:`work_list`: the node's leases not released and its jobs not finished (with their cancel
  flags), and the list's generation (the number its heartbeat replies carry). A pending or revoked
  agent gets empty lists. A read: nothing is written (last seen comes from heartbeats and reports).
- :func:`ingest_report`: job states, usage records and log tails, in one transaction. Idempotent: a
  terminal job state never changes, a job's usage is stored once (sent again: ignored), log tails
  replace the earlier ones. A job the node does not hold, or a record that cannot be true (usage
  beyond the job's devices and time), refuses the whole report (404 / 422 naming it, audited),
  nothing of it stored. A report refreshes the node's last seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.domain.agents import AgentNode, AgentState
from suanli.drivers.base import JobState
from suanli.errors import NotFoundError, PermissionDeniedError, SuanliError, ValidationError
from suanli.service.agents import refuse
from suanli.service.platform import Platform
from suanli.store import agent_work as store
from suanli.store import agents as agent_store

__all__ = ["LOG_TAIL_BYTES", "Ingested", "JobReport", "JobState", "LogReport", "UsageReport", "WorkList",
           "ingest_report", "work_list"]

LOG_TAIL_BYTES = 64 * 1024
"""Each log tail an agent sends is at most this many bytes (UTF-8)."""


@dataclass(frozen=True)
class WorkList:
    generation: int
    leases: list[dict[str, Any]]
    """``{"lease_id", "grant"}``: the grant restricted to this node."""
    jobs: list[dict[str, Any]]
    """``{"job_id", "lease_id", "spec", "cancel"}``."""


@dataclass(frozen=True)
class JobReport:
    job_id: str
    state: JobState
    start: datetime | None = None
    end: datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    device_indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class UsageReport:
    job_id: str
    lease_id: str
    device_indices: tuple[int, ...]
    devices: int
    start: datetime
    end: datetime
    state: JobState
    exit_code: int | None
    device_seconds: Decimal


@dataclass(frozen=True)
class LogReport:
    job_id: str
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Ingested:
    jobs: int
    """Job rows whose state changed."""
    usage_new: int
    """Usage records stored for the first time."""


def work_list(p: Platform, agent: AgentNode) -> WorkList:
    """The node's work now (empty for an agent not approved)."""
    if agent.state is not AgentState.APPROVED:
        return WorkList(0, [], [])
    with p.tx() as s:  # a GET: a read-only transaction
        leases = store.live_leases(s, agent.node)
        jobs = store.live_jobs(s, agent.node)
    return WorkList(
        generation=store.generation_of(leases, jobs),
        leases=[{"lease_id": x.lease_id, "grant": x.grant} for x in leases],
        jobs=[{"job_id": j.job_id, "lease_id": j.lease_id, "spec": j.spec, "cancel": j.cancel_requested}
              for j in jobs])


def _check_shapes(node: str, jobs: Sequence[JobReport], usage: Sequence[UsageReport], logs: Sequence[LogReport]) -> None:
    for j in jobs:
        if j.start is not None and j.end is not None and j.end < j.start:
            raise ValidationError(f"job {j.job_id}: end {j.end.isoformat()} is before start {j.start.isoformat()}; "
                                  "allowed: end >= start", field="jobs.end", job=j.job_id)
        if j.state.terminal and j.end is None:
            raise ValidationError(f"job {j.job_id}: state {j.state.value} is final and needs its end time",
                                  field="jobs.end", job=j.job_id)
    for u in usage:
        if not u.state.terminal:
            raise ValidationError(f"usage of job {u.job_id}: state {u.state.value} is not final; a usage record is "
                                  f"sent once the job ended (allowed: {', '.join(x.value for x in JobState if x.terminal)})",
                                  field="usage.state", job=u.job_id)
        if u.end < u.start:
            raise ValidationError(f"usage of job {u.job_id}: end {u.end.isoformat()} is before start "
                                  f"{u.start.isoformat()}; allowed: end >= start", field="usage.end", job=u.job_id)
    for log in logs:
        for name, text in (("stdout", log.stdout), ("stderr", log.stderr)):
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > LOG_TAIL_BYTES:
                raise ValidationError(f"logs of job {log.job_id}: {name} is {size} bytes; allowed: a tail of at most "
                                      f"{LOG_TAIL_BYTES} bytes", field=f"logs.{name}", job=log.job_id)


def _check_usage(node: str, u: UsageReport, job: store.AgentJob) -> None:
    """A usage record must fit its job: same lease, at most its devices, at most devices × elapsed."""
    if u.lease_id != job.lease_id:
        raise ValidationError(f"usage of job {u.job_id}: lease {u.lease_id} is not the job's lease {job.lease_id}",
                              field="usage.lease_id", job=u.job_id)
    if not 0 <= u.devices <= job.devices or len(u.device_indices) > job.devices:
        raise ValidationError(f"usage of job {u.job_id}: {u.devices} device(s) (indices {list(u.device_indices)}); "
                              f"allowed: 0 to the job's {job.devices}", field="usage.devices", job=u.job_id)
    elapsed = math.ceil((u.end - u.start).total_seconds())
    bound = Decimal(u.devices) * elapsed
    if not (u.device_seconds.is_finite() and Decimal(0) <= u.device_seconds <= bound):
        raise ValidationError(f"usage of job {u.job_id}: {u.device_seconds} device-seconds is impossible; allowed: "
                              f"0 to {bound} ({u.devices} device(s) × {elapsed} s)", field="usage.device_seconds",
                              job=u.job_id)


def ingest_report(p: Platform, agent: AgentNode, *, jobs: Sequence[JobReport] = (), usage: Sequence[UsageReport] = (),
                  logs: Sequence[LogReport] = ()) -> Ingested:
    """Store an agent's report (see the module docstring); refusals are audited and store nothing."""
    node = agent.node
    now = p.clock.now()
    try:
        _check_shapes(node, jobs, usage, logs)
        with p.tx() as s:
            current = agent_store.get_agent(s, node, for_update=True)
            if current is None or current.state is AgentState.REVOKED:
                raise PermissionDeniedError(f"the agent of node {node} was revoked", node=node)
            ids = [j.job_id for j in jobs] + [u.job_id for u in usage] + [g.job_id for g in logs]
            held = {k: v for k, v in store.jobs_by_id(s, ids).items() if v.node == node}
            unknown = [i for i in dict.fromkeys(ids) if i not in held]
            if unknown:
                raise NotFoundError(f"node {node} holds no job {unknown[0]!r}"
                                    + (f" (nor {', '.join(unknown[1:4])})" if len(unknown) > 1 else "")
                                    + "; nothing of the report was stored", node=node, job=unknown[0])
            changed = new = 0
            for j in jobs:
                changed += store.report_job(s, j.job_id, state=j.state.value, start=j.start, end=j.end,
                                            exit_code=j.exit_code, reason=j.reason, device_indices=list(j.device_indices),
                                            now=now)
            for u in usage:
                _check_usage(node, u, held[u.job_id])
                new += store.add_usage(s, store.AgentUsage(
                    u.job_id, u.lease_id, node, u.device_indices, u.devices, u.start, u.end, u.state.value,
                    u.exit_code, u.device_seconds, now))
            for g in logs:
                store.set_logs(s, g.job_id, g.stdout, g.stderr, now)
            agent_store.touch(s, node, now, None, None, None)
    except SuanliError as e:
        refuse(p, e, node)
    return Ingested(changed, new)

"""Repositories for the work of agent nodes: their leases and jobs as the server wants them, and
what the agents report back (job states, log tails, usage records).

The *work list* of a node is its leases not released and its jobs not terminal (a job is terminal
once its agent reported a terminal state; the server never decides it for the agent). Its
:func:`generation` is a digest of exactly that list: it changes when, and only when, the list does,
so an agent fetches work when the number in its heartbeat reply changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from suanli.drivers.base import JobState
from suanli.store.agent_tables import AgentJobRow, AgentLeaseRow, AgentUsageRow

TERMINAL = tuple(s.value for s in JobState if s.terminal)


@dataclass(frozen=True)
class AgentLease:
    node: str
    lease_id: str
    grant: dict[str, Any]
    """``LeaseGrant.to_dict()`` restricted to this node."""
    released: bool
    updated_at: datetime


@dataclass(frozen=True)
class AgentJob:
    job_id: str
    lease_id: str
    node: str
    spec: dict[str, Any]
    devices: int
    submitted_at: datetime
    cancel_requested: bool
    state: str
    device_indices: tuple[int, ...]
    start: datetime | None
    end: datetime | None
    exit_code: int | None
    reason: str
    stdout: str
    stderr: str


@dataclass(frozen=True)
class AgentUsage:
    job_id: str
    lease_id: str
    node: str
    device_indices: tuple[int, ...]
    devices: int
    start: datetime
    end: datetime
    state: str
    exit_code: int | None
    device_seconds: Decimal
    reported_at: datetime


def _lease(r: AgentLeaseRow) -> AgentLease:
    return AgentLease(r.node, r.lease_id, dict(r.grant), r.released, r.updated_at)


def _job(r: AgentJobRow) -> AgentJob:
    return AgentJob(r.job_id, r.lease_id, r.node, dict(r.spec), r.devices, r.submitted_at, r.cancel_requested, r.state,
                    tuple(r.device_indices or ()), r.start, r.end, r.exit_code, r.reason, r.stdout, r.stderr)


def _usage(r: AgentUsageRow) -> AgentUsage:
    return AgentUsage(r.job_id, r.lease_id, r.node, tuple(r.device_indices or ()), r.devices, r.start, r.end, r.state,
                      r.exit_code, r.device_seconds, r.reported_at)


# ---------------------------------------------------------------- the work list


def live_leases(s: Session, node: str) -> list[AgentLease]:
    q = (select(AgentLeaseRow).where(AgentLeaseRow.node == node, AgentLeaseRow.released.is_(False))
         .order_by(AgentLeaseRow.lease_id))
    return [_lease(r) for r in s.scalars(q)]


def live_jobs(s: Session, node: str) -> list[AgentJob]:
    q = (select(AgentJobRow).where(AgentJobRow.node == node, AgentJobRow.state.not_in(TERMINAL))
         .order_by(AgentJobRow.submitted_at, AgentJobRow.job_id))
    return [_job(r) for r in s.scalars(q)]


def generation(s: Session, node: str) -> int:
    """A number that changes when the node's work list changes (a lease provisioned, re-granted or
    released; a job submitted, asked to cancel, or finished): a digest of the list, 0..2^53."""
    return generation_of(live_leases(s, node), live_jobs(s, node))


def generation_of(live: Iterable[AgentLease], jobs_live: Iterable[AgentJob]) -> int:
    """:func:`generation` of a work list already read (0: nothing to do)."""
    leases = [[x.lease_id, x.grant] for x in live]
    jobs = [[j.job_id, j.lease_id, j.cancel_requested] for j in jobs_live]
    if not leases and not jobs:
        return 0
    digest = hashlib.sha256(json.dumps([leases, jobs], sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 11  # fits a JSON number exactly


# ---------------------------------------------------------------- leases


def leases_of(s: Session, lease_id: str, *, for_update: bool = False) -> list[AgentLease]:
    q = select(AgentLeaseRow).where(AgentLeaseRow.lease_id == lease_id).order_by(AgentLeaseRow.node)
    if for_update:
        q = q.with_for_update()
    return [_lease(r) for r in s.scalars(q)]


def put_lease(s: Session, node: str, lease_id: str, grant: dict[str, Any], now: datetime) -> bool:
    """The lease on ``node`` with this grant, not released (a new row, or a released one taken again).
    Returns ``False`` (and changes nothing) when a row not released is there: another transaction
    provisioned it since the caller looked (the caller decides again)."""
    row = s.get(AgentLeaseRow, (node, lease_id), with_for_update=True, populate_existing=True)
    if row is None:
        s.add(AgentLeaseRow(node=node, lease_id=lease_id, grant=grant, released=False, updated_at=now))
    elif not row.released:
        return False
    else:
        row.grant, row.released, row.updated_at = grant, False, now
    s.flush()
    return True


def release_lease(s: Session, lease_id: str, now: datetime) -> int:
    """Mark the lease released on every node and ask its live jobs to stop. Returns the rows released."""
    n = s.execute(update(AgentLeaseRow).where(AgentLeaseRow.lease_id == lease_id, AgentLeaseRow.released.is_(False))
                  .values(released=True, updated_at=now).execution_options(synchronize_session=False))
    s.execute(update(AgentJobRow).where(AgentJobRow.lease_id == lease_id, AgentJobRow.state.not_in(TERMINAL),
                                        AgentJobRow.cancel_requested.is_(False))
              .values(cancel_requested=True, updated_at=now).execution_options(synchronize_session=False))
    return int(getattr(n, "rowcount", 0) or 0)


def holds(s: Session, lease_id: str) -> list[str]:
    """The agent nodes holding the lease now (not released), by name."""
    q = (select(AgentLeaseRow.node).where(AgentLeaseRow.lease_id == lease_id, AgentLeaseRow.released.is_(False))
         .order_by(AgentLeaseRow.node))
    return list(s.scalars(q))


# ---------------------------------------------------------------- jobs


def insert_job(s: Session, *, job_id: str, lease_id: str, node: str, spec: dict[str, Any], devices: int,
               now: datetime) -> None:
    s.add(AgentJobRow(job_id=job_id, lease_id=lease_id, node=node, spec=spec, devices=devices, submitted_at=now,
                      cancel_requested=False, state=JobState.PENDING.value, device_indices=[], reason="",
                      stdout="", stderr="", updated_at=now))
    s.flush()


def get_job(s: Session, job_id: str) -> AgentJob | None:
    row = s.get(AgentJobRow, job_id)
    return None if row is None else _job(row)


def jobs_by_id(s: Session, job_ids: Iterable[str]) -> dict[str, AgentJob]:
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    return {r.job_id: _job(r) for r in s.scalars(select(AgentJobRow).where(AgentJobRow.job_id.in_(ids)))}


def request_cancel(s: Session, job_id: str, now: datetime) -> None:
    """Ask the agent to stop the job (a job already terminal is left as it is)."""
    s.execute(update(AgentJobRow).where(AgentJobRow.job_id == job_id, AgentJobRow.state.not_in(TERMINAL),
                                        AgentJobRow.cancel_requested.is_(False))
              .values(cancel_requested=True, updated_at=now).execution_options(synchronize_session=False))


def report_job(s: Session, job_id: str, *, state: str, start: datetime | None, end: datetime | None,
               exit_code: int | None, reason: str, device_indices: list[int], now: datetime) -> bool:
    """The agent's word on a job. A terminal state never changes (a report again, or a late one, is a
    no-op). Returns whether the row changed."""
    row = s.get(AgentJobRow, job_id)
    if row is None or row.state in TERMINAL:
        return False
    new = (state, start, end, exit_code, reason[:400], list(device_indices))
    if (row.state, row.start, row.end, row.exit_code, row.reason, list(row.device_indices or [])) == new:
        return False
    row.state, row.start, row.end, row.exit_code, row.reason, row.device_indices = new
    row.updated_at = now
    s.flush()
    return True


def set_logs(s: Session, job_id: str, stdout: str, stderr: str, now: datetime) -> None:
    s.execute(update(AgentJobRow).where(AgentJobRow.job_id == job_id)
              .values(stdout=stdout, stderr=stderr, updated_at=now).execution_options(synchronize_session=False))


# ---------------------------------------------------------------- usage


def add_usage(s: Session, u: AgentUsage) -> bool:
    """Store a job's usage record once (the same job again: ignored). Returns whether it was new."""
    if s.get(AgentUsageRow, u.job_id) is not None:
        return False
    s.add(AgentUsageRow(job_id=u.job_id, lease_id=u.lease_id, node=u.node, device_indices=list(u.device_indices),
                        devices=u.devices, start=u.start, end=u.end, state=u.state, exit_code=u.exit_code,
                        device_seconds=u.device_seconds, reported_at=u.reported_at))
    s.flush()
    return True


def usage_since(s: Session, since: datetime) -> list[AgentUsage]:
    """Records of jobs that ended at or after ``since``, or that reached the server since then (a record
    an agent sends late, after a partition, is not lost behind the cursor)."""
    q = (select(AgentUsageRow).where(or_(AgentUsageRow.end >= since, AgentUsageRow.reported_at >= since))
         .order_by(AgentUsageRow.end, AgentUsageRow.job_id))
    return [_usage(r) for r in s.scalars(q)]

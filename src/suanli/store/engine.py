"""Repositories for the engine side of leases: provisioning mirror, jobs, SLA credits, cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.errors import NotFoundError
from suanli.store.engine_tables import EngineCursorRow, JobRow, LeaseEngineRow, SlaCreditRow
from suanli.store.tables import LeaseRow


@dataclass(frozen=True)
class EngineMirror:
    lease_id: str
    lease_state: str
    tenant_id: str
    driver: str | None
    state: str | None
    """None: the engine was never asked; else provisioned | released | error."""
    attempts: int
    next_try_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class Job:
    id: str
    lease_id: str
    tenant_id: str
    driver: str
    driver_job_id: str
    name: str
    command: list[str]
    node: str | None
    devices: int
    device_indices: list[int] | None
    state: str
    reason: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    device_seconds: Decimal | None


def mirrors_needing_action(s: Session, driver: str) -> list[EngineMirror]:
    """Active leases not provisioned yet, and provisioned leases that are no longer active."""
    q = (select(LeaseRow.id, LeaseRow.state, LeaseRow.tenant_id, LeaseEngineRow)
         .join(LeaseEngineRow, LeaseEngineRow.lease_id == LeaseRow.id, isouter=True)
         .where(LeaseRow.form != "reservation")  # a term's held devices: the leases drawn on them run work
         .where(((LeaseRow.state == "active") & ((LeaseEngineRow.state.is_(None)) | (LeaseEngineRow.state != "provisioned")))
                | ((LeaseRow.state != "active") & (LeaseEngineRow.state.in_(["provisioned", "error"])))))
    out = []
    for lid, lstate, tenant, row in s.execute(q):
        if row is not None and row.driver != driver:
            continue
        out.append(EngineMirror(lid, lstate, tenant, driver, None if row is None else row.state,
                                0 if row is None else row.attempts, None if row is None else row.next_try_at,
                                "" if row is None else row.last_error))
    return out


def mirror(s: Session, lease_id: str) -> LeaseEngineRow | None:
    return s.get(LeaseEngineRow, lease_id)


def set_mirror(s: Session, lease_id: str, driver: str, state: str, now: datetime, *, engine_ref: str = "",
               attempts: int = 0, next_try_at: datetime | None = None, error: str = "") -> None:
    row = s.get(LeaseEngineRow, lease_id)
    if row is None:
        row = LeaseEngineRow(lease_id=lease_id)
        s.add(row)
    row.driver, row.state, row.engine_ref, row.attempts = driver, state, engine_ref, attempts
    row.next_try_at, row.last_error, row.updated_at = next_try_at, error, now
    s.flush()


def _job(r: JobRow) -> Job:
    return Job(r.id, r.lease_id, r.tenant_id, r.driver, r.driver_job_id, r.name, list(r.command), r.node, r.devices,
               r.device_indices, r.state, r.reason, r.submitted_at, r.started_at, r.finished_at, r.exit_code,
               r.device_seconds)


def insert_job(s: Session, **values: Any) -> Job:
    row = JobRow(**values)
    s.add(row)
    s.flush()
    return _job(row)


def get_job(s: Session, job_id: str, *, tenant_id: str | None) -> Job:
    q = select(JobRow).where(JobRow.id == job_id)
    if tenant_id is not None:
        q = q.where(JobRow.tenant_id == tenant_id)
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(f"no job {job_id!r} visible to you", job=job_id)
    return _job(row)


def job_by_engine_id(s: Session, driver: str, driver_job_id: str) -> Job | None:
    row = s.scalar(select(JobRow).where(JobRow.driver == driver, JobRow.driver_job_id == driver_job_id))
    return None if row is None else _job(row)


def list_jobs(s: Session, *, tenant_id: str | None, lease_id: str | None = None, offset: int = 0,
              limit: int | None = None) -> list[Job]:
    q = select(JobRow).order_by(JobRow.submitted_at.desc(), JobRow.id)
    if tenant_id is not None:
        q = q.where(JobRow.tenant_id == tenant_id)
    if lease_id is not None:
        q = q.where(JobRow.lease_id == lease_id)
    q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return [_job(r) for r in s.scalars(q)]


def update_job(s: Session, driver: str, driver_job_id: str, *, unrecorded_only: bool = False, **values: Any) -> bool:
    """Update a job by its engine id; ``unrecorded_only``: only if its usage is not recorded yet."""
    q = update(JobRow).where(JobRow.driver == driver, JobRow.driver_job_id == driver_job_id)
    if unrecorded_only:
        q = q.where(JobRow.device_seconds.is_(None))
    res = s.execute(q.values(**values))
    return bool(res.rowcount)  # type: ignore[attr-defined]


def usage_cursor(s: Session, driver: str) -> datetime | None:
    row = s.get(EngineCursorRow, driver)
    return None if row is None else row.usage_since


def set_usage_cursor(s: Session, driver: str, since: datetime) -> None:
    row = s.get(EngineCursorRow, driver)
    if row is None:
        s.add(EngineCursorRow(driver=driver, usage_since=since, extra={}))
    else:
        row.usage_since = since
    s.flush()


def add_sla_credit(s: Session, *, lease_id: str, tenant_id: str, start: datetime, reason: str, currency: str,
                   now: datetime) -> bool:
    """Open a credit for an interruption starting at ``start``; False if it is already recorded."""
    try:
        with s.begin_nested():
            s.add(SlaCreditRow(lease_id=lease_id, tenant_id=tenant_id, start=start, end=None, seconds=0,
                               amount=Decimal(0), currency=currency, reason=reason, created_at=now))
    except IntegrityError:
        return False
    return True


def close_sla_credit(s: Session, lease_id: str, end: datetime, amount: Decimal) -> SlaCreditRow | None:
    row = s.scalar(select(SlaCreditRow).where(SlaCreditRow.lease_id == lease_id, SlaCreditRow.end.is_(None)))
    if row is None:
        return None
    row.end, row.seconds, row.amount = end, int((end - row.start).total_seconds()), amount
    s.flush()
    return row


def sla_credits(s: Session, *, tenant_id: str | None = None, lease_id: str | None = None) -> list[SlaCreditRow]:
    q = select(SlaCreditRow).order_by(SlaCreditRow.start)
    if tenant_id is not None:
        q = q.where(SlaCreditRow.tenant_id == tenant_id)
    if lease_id is not None:
        q = q.where(SlaCreditRow.lease_id == lease_id)
    return list(s.scalars(q))

"""Work on a lease: submit, poll, logs, cancel, and usage read back from the engine.

Every engine call happens outside a transaction; the job row is written after the engine
accepted the job (a crash in between leaves an engine job the platform does not list; it ends
with the lease, which releases everything on the engine). Usage records from the engine are
final; they are matched to job rows by (driver, engine job id), so reading them twice changes
nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import LIVE_STATES, LeaseState, ProductForm
from suanli.domain.tokens import TokenScope
from suanli.drivers.base import JobSpec, JobState, JobStatus
from suanli.errors import ConflictError, EngineError, SuanliError
from suanli.ledger.meters import Meter, parse_event
from suanli.service.engine import require_provisioned
from suanli.service.platform import Platform
from suanli.service.usage import store_records
from suanli.store import engine as store
from suanli.store import job_tokens as job_token_store
from suanli.store import leases as lease_store
from suanli.store import tokens as token_store
from suanli.store.engine import Job
from suanli.store.job_tokens import JOB_LABEL

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def submit_job(p: Platform, actor: Principal, lease_id: str, command: Sequence[str], *, devices: int | None = None,
               node: str | None = None, env: Mapping[str, str] | None = None, name: str | None = None,
               time_limit_s: int | None = None, runtime: bool = False) -> Job:
    """Run ``command`` on the lease's devices. Refused for another tenant's lease (404), a lease that is
    not active, more devices than the lease holds there, or a node the lease does not hold. Only
    the tenant holding the lease runs work on it (the operator may read and cancel it). ``runtime``:
    a platform model runtime (``service.replicas`` only; the jobs API never sets it).

    Where the local engine runs the job, it gets ``SUANLI_TOKEN`` (a new ``lease`` token of the actor for
    this lease, labelled ``job <job id>``, expiring at the job's time limit or the lease's end, whichever
    is first) and ``SUANLI_SERVER`` (the API's Unix socket as the job sees it): these replace a tenant's
    env of the same names. The secret is never stored; the token is revoked when the job ends or its
    lease does (:func:`revoke_job_tokens`). Runtime jobs get none."""
    grant = authorize(actor, Action.SUBMIT_JOB)
    grant.check_lease(lease_id)
    with p.tx() as s:  # the lease as it is now: a term that is over is ended, a reservation started is active
        lease = lease_store.get_lease(s, lease_id, tenant_id=grant.tenant_id, now=p.clock.now())
    if lease.form is ProductForm.RESERVATION:
        raise ConflictError(f"lease {lease_id} is a term plan's reservation: it holds devices, it runs nothing; order "
                            "the devices (the order is placed on the reservation) and run jobs on that lease",
                            lease=lease_id)
    if lease.state is not LeaseState.ACTIVE:
        raise ConflictError(f"lease {lease_id} is {lease.state.value}; jobs run only on an active lease",
                            lease=lease_id, state=lease.state.value)
    require_provisioned(p, lease)
    assert p.driver is not None
    job_id = "job_" + secrets.token_hex(6)
    job_env = dict(env or {})
    token_id = None
    server = None if runtime else p.job_api_server({a.node for a in lease.last_allocations()})
    if server is not None:  # the job's own token to reach the API (docs/sandbox.md); the platform's values win
        now = p.clock.now()
        ends = [t for t in (lease.end, now + timedelta(seconds=time_limit_s) if time_limit_s else None) if t]
        with p.tx() as s:
            token, secret = token_store.issue(s, actor.account_id, now, label=JOB_LABEL + job_id,
                                              scope=TokenScope.LEASE, lease_id=lease.id,
                                              expires_at=min(ends) if ends else None, job_id=job_id)
        token_id = token.id
        job_env.update({"SUANLI_TOKEN": secret, "SUANLI_SERVER": server})
    spec = JobSpec(command=tuple(command), env=job_env, devices=devices, node=node, name=name,
                   time_limit=timedelta(seconds=time_limit_s) if time_limit_s else None, runtime=runtime)
    try:
        handle = p.driver.submit(lease.id, spec)  # engine I/O, outside any transaction
    except BaseException:
        if token_id is not None:  # nothing half-made: the job never ran, its token goes
            with p.tx() as s:
                token_store.revoke(s, token_id, p.clock.now())
        raise
    with p.tx() as s:
        return store.insert_job(s, id=job_id, lease_id=lease.id, tenant_id=lease.tenant_id,
                                driver=p.driver.name, driver_job_id=handle.job_id, name=name or "",
                                command=list(command), node=handle.node, devices=handle.devices, device_indices=None,
                                state=JobState.PENDING.value, reason="", submitted_at=handle.submitted_at)


def _poll(p: Platform, jobs: Sequence[Job]) -> list[tuple[Job, JobStatus]]:
    """The engine's word on the jobs that have not finished (polled outside any transaction)."""
    driver = p.driver
    if driver is None:
        return []
    out = []
    for j in jobs:
        if j.driver != driver.name or JobState(j.state).terminal:
            continue
        try:
            out.append((j, driver.poll(j.driver_job_id)))
        except SuanliError:
            continue  # unreachable engine: keep the last known state; the next poll retries
    return out


def _as_polled(j: Job, st: JobStatus) -> Job:
    return replace(j, state=st.state.value, node=st.node or j.node,
                   device_indices=list(st.device_indices) or j.device_indices, started_at=st.start,
                   finished_at=st.end, exit_code=st.exit_code, reason=st.reason or "")


def _refresh(p: Platform, jobs: list[Job]) -> list[Job]:
    """The jobs as the engine reports them now; nothing is written (reads never write): the
    background pass records them (:func:`record_job_states`)."""
    polled = {j.id: st for j, st in _poll(p, jobs)}
    return [_as_polled(j, polled[j.id]) if j.id in polled else j for j in jobs]


def _record(p: Platform, polled: Sequence[tuple[Job, JobStatus]]) -> None:
    if not polled or p.driver is None:
        return
    with p.tx() as s:
        for j, st in polled:
            store.update_job(s, p.driver.name, j.driver_job_id, state=st.state.value, node=st.node or j.node,
                             device_indices=list(st.device_indices) or j.device_indices, started_at=st.start,
                             finished_at=st.end, exit_code=st.exit_code, reason=st.reason or "")


def record_job_states(p: Platform) -> int:
    """The background pass's part: poll every job that has not finished and record what the engine
    says. Returns the jobs polled."""
    with p.tx() as s:
        jobs = [j for j in store.list_jobs(s, tenant_id=None) if not JobState(j.state).terminal]
    polled = _poll(p, jobs)
    _record(p, polled)
    revoke_job_tokens(p)
    return len(polled)


def revoke_job_tokens(p: Platform) -> int:
    """Revoke the token of every job that ended and of every job whose lease is no longer live (a job
    not yet recorded keeps its token while its lease lives). Idempotent. Returns the tokens revoked."""
    with p.tx() as s:
        ended = [tid for tid, _job, _lease, job_state, lease_state in job_token_store.live_job_tokens(s)
                 if (job_state is not None and JobState(job_state).terminal)
                 or LeaseState(lease_state) not in LIVE_STATES]
        now = p.clock.now()
        for tid in ended:
            token_store.revoke(s, tid, now)
    return len(ended)


def list_jobs(p: Platform, actor: Principal, lease_id: str | None = None, offset: int = 0, limit: int = 50) -> list[Job]:
    grant = authorize(actor, Action.READ_JOBS)
    tenant_id = grant.tenant_id
    if lease_id is not None:
        grant.check_lease(lease_id)
    lease_id = lease_id or grant.lease_only  # a lease token lists the jobs of its lease only
    with p.tx() as s:
        if lease_id is not None:
            lease_store.get_lease(s, lease_id, tenant_id=tenant_id)
        jobs = store.list_jobs(s, tenant_id=tenant_id, lease_id=lease_id, offset=offset, limit=limit)
    return _refresh(p, jobs)


def get_job(p: Platform, actor: Principal, job_id: str, action: Action = Action.READ_JOBS) -> Job:
    grant = authorize(actor, action)
    tenant_id = grant.tenant_id
    with p.tx() as s:
        job = store.get_job(s, job_id, tenant_id=tenant_id)
    grant.check_lease(job.lease_id, "job", job_id)
    return _refresh(p, [job])[0]


def job_logs(p: Platform, actor: Principal, job_id: str) -> str:
    job = get_job(p, actor, job_id)
    if p.driver is None or p.driver.name != job.driver:
        raise EngineError(f"job {job_id} ran on engine {job.driver}, which this server does not run", job=job_id)
    return p.driver.logs(job.driver_job_id)


def cancel_job(p: Platform, actor: Principal, job_id: str) -> Job:
    job = get_job(p, actor, job_id, Action.CANCEL_JOB)
    if p.driver is None or p.driver.name != job.driver:
        raise EngineError(f"job {job_id} ran on engine {job.driver}, which this server does not run", job=job_id)
    p.driver.cancel(job.driver_job_id)
    _record(p, _poll(p, [job]))  # a write: it records the engine's answer at once
    revoke_job_tokens(p)
    return get_job(p, actor, job_id)


def collect_usage(p: Platform) -> int:
    """Read finished jobs' accounting from the engine into the job rows (their device-seconds) and, as
    usage events of the informational meter ``job_device_seconds`` (source ``engine:<driver>``, id =
    engine job id), into the usage store next to the billed lease time. Returns job records applied."""
    driver = p.driver
    if driver is None:
        return 0
    with p.tx() as s:
        since = store.usage_cursor(s, driver.name) or EPOCH
    records = driver.usage(since)  # engine I/O, outside any transaction
    applied = 0
    now = p.clock.now()
    with p.tx() as s:
        events = []
        for r in records:
            # the device-seconds only: the job's state, times, exit code and reason are the poll's, stored
            # together (record_job_states); a state from here would end the row without its reason, and a
            # terminal row is never polled again
            applied += store.update_job(s, driver.name, r.job_id, unrecorded_only=True,
                                        device_seconds=r.device_seconds)
            job = store.job_by_engine_id(s, driver.name, r.job_id)
            if job is None:
                continue  # engine work the platform did not submit
            lease = lease_store.get_lease(s, job.lease_id)
            # the model of the node it ran on (a lease ended in its first second keeps no allocations)
            models = [a.model for a in lease.allocations if a.node == r.node] or [a.model for a in lease.allocations]
            events.append(parse_event({
                "id": r.job_id, "source": f"engine:{driver.name}", "type": Meter.JOB_DEVICE_SECONDS.value,
                "subject": job.tenant_id, "time": r.end.isoformat(),
                "data": {"quantity": format(r.device_seconds, "f"), "model": models[0] if models else "", "lease": lease.id,
                         "node": r.node or ""}}, now=now))
        if events:
            store_records(s, events, now)  # idempotent on (source, id): a record read twice counts once
        if records:
            store.set_usage_cursor(s, driver.name, max(r.end for r in records))
    return applied


def lease_usage(p: Platform, actor: Principal, lease_id: str) -> dict[str, Any]:
    """Allocated device-seconds (what is billed) next to device-seconds jobs actually used, and the
    lease's SLA credits."""
    grant = authorize(actor, Action.READ_LEASE_USAGE)
    tenant_id = grant.tenant_id
    grant.check_lease(lease_id)
    now = p.clock.now()
    with p.tx() as s:  # jobs' usage as the background pass collected it (reads never write)
        lease = lease_store.get_lease(s, lease_id, tenant_id=tenant_id, now=now)
        jobs = store.list_jobs(s, tenant_id=None, lease_id=lease.id)
        credits = store.sla_credits(s, lease_id=lease.id, tenant_id=tenant_id)
    allocated = Decimal(0)
    window = lease.billable_window(now)
    if window is not None:
        for a in lease.allocations:
            lo, hi = max(window[0], a.start), min(window[1], a.end or window[1])
            if hi > lo:
                allocated += a.share * int((hi - lo).total_seconds())
    used = sum((j.device_seconds or Decimal(0) for j in jobs), Decimal(0))
    return {"lease_id": lease.id, "allocated_device_seconds": allocated, "used_device_seconds": used,
            "jobs": len(jobs), "finished_jobs": sum(1 for j in jobs if j.device_seconds is not None),
            "used_share": (used / allocated) if allocated else Decimal(0),
            "sla_credits": [{"start": c.start, "end": c.end, "seconds": c.seconds, "amount": c.amount,
                             "currency": c.currency, "reason": c.reason} for c in credits]}

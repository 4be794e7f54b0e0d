"""The tokens the platform makes for jobs (``service.jobs``): a ``lease`` token with ``job_id`` set
(labelled ``job <job id>`` for people; the label decides nothing)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.store.engine_tables import JobRow
from suanli.store.tables import ApiTokenRow, LeaseRow

JOB_LABEL = "job "
"""A job's token is labelled ``job <job id>`` (what a person reads in a token list)."""


def live_job_tokens(s: Session) -> list[tuple[int, str, str, str | None, str]]:
    """Every job token not yet revoked: (token id, job id, lease id, the job's state or ``None`` when
    the job has no row (yet), the lease's state)."""
    rows = s.execute(
        select(ApiTokenRow.id, ApiTokenRow.job_id, ApiTokenRow.lease_id, JobRow.state, LeaseRow.state)
        .join(LeaseRow, LeaseRow.id == ApiTokenRow.lease_id)
        .outerjoin(JobRow, JobRow.id == ApiTokenRow.job_id)
        .where(ApiTokenRow.job_id.is_not(None), ApiTokenRow.revoked_at.is_(None))).all()
    return [(tid, job, lease, job_state, lease_state) for tid, job, lease, job_state, lease_state in rows
            if job is not None and lease is not None]  # (both are: the query's filter and join)

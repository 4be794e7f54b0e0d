"""The tokens the platform makes for jobs (``service.jobs``): a ``lease`` token labelled ``job <job id>``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.store.engine_tables import JobRow
from suanli.store.tables import ApiTokenRow, LeaseRow

JOB_LABEL = "job "
"""A job's token is labelled ``job <job id>`` (the label names the job; the job row stores no token)."""


def live_job_tokens(s: Session) -> list[tuple[int, str, str, str | None, str]]:
    """Every job token not yet revoked: (token id, job id, lease id, the job's state or ``None`` when
    the job has no row (yet), the lease's state)."""
    rows = s.execute(
        select(ApiTokenRow.id, ApiTokenRow.label, ApiTokenRow.lease_id, LeaseRow.state)
        .join(LeaseRow, LeaseRow.id == ApiTokenRow.lease_id)
        .where(ApiTokenRow.scope == "lease", ApiTokenRow.revoked_at.is_(None),
               ApiTokenRow.label.like(JOB_LABEL + "job\\_%", escape="\\"))).all()
    jobs = {r[1][len(JOB_LABEL):] for r in rows}
    states: dict[str, str] = ({r[0]: r[1] for r in s.execute(select(JobRow.id, JobRow.state).where(JobRow.id.in_(jobs)))}
                              if jobs else {})
    return [(tid, label[len(JOB_LABEL):], lease, states.get(label[len(JOB_LABEL):]), lease_state)
            for tid, label, lease, lease_state in rows if lease is not None]

"""What-if runs (table ``whatif_runs``, migration 0025) and the past grants a run replays."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.whatif import PastGrant, RunState, WhatIfRun
from suanli.errors import NotFoundError
from suanli.store.tables import AllocationRow, Base, DeviceRow, LeaseRow, NodeRow
from suanli.store.types import DecimalText, UTCDateTime

LIVE = (RunState.QUEUED.value, RunState.RUNNING.value)


class WhatIfRunRow(Base):
    __tablename__ = "whatif_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[Decimal] = mapped_column(DecimalText)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    estimate_seconds: Mapped[Decimal] = mapped_column(DecimalText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replica: Mapped[str] = mapped_column(String(64), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        UniqueConstraint("seq", name="uq_whatif_runs_seq"),
        CheckConstraint("state in ('queued','running','done','failed','cancelled')", name="ck_whatif_runs_state"),
        Index("ix_whatif_runs_state", "state"),
    )


def _run(r: WhatIfRunRow) -> WhatIfRun:
    return WhatIfRun(r.id, RunState(r.state), r.progress, dict(r.params), None if r.result is None else dict(r.result),
                     r.error, r.estimate_seconds, r.created_at, r.created_by, r.started_at, r.finished_at,
                     r.heartbeat_at, r.replica, r.cancel_requested)


def add_run(s: Session, run_id: str, params: dict[str, Any], estimate_s: Decimal, by: str, now: datetime,
            replica: str) -> WhatIfRun:
    seq = (s.scalar(select(WhatIfRunRow.seq).order_by(WhatIfRunRow.seq.desc()).limit(1)) or 0) + 1
    row = WhatIfRunRow(id=run_id, state=RunState.QUEUED.value, progress=Decimal(0), params=params, result=None,
                       error="", estimate_seconds=estimate_s, created_at=now, created_by=by, heartbeat_at=now,
                       replica=replica, cancel_requested=False, seq=seq)
    s.add(row)
    s.flush()
    return _run(row)


def get_run(s: Session, run_id: str) -> WhatIfRun:
    row = s.get(WhatIfRunRow, run_id)
    if row is None:
        raise NotFoundError(f"no what-if run {run_id!r}; list them with `suanli whatif list`", run=run_id)
    return _run(row)


def list_runs(s: Session, limit: int = 50) -> list[WhatIfRun]:
    rows = s.scalars(select(WhatIfRunRow).order_by(WhatIfRunRow.seq.desc()).limit(limit))
    return [_run(r) for r in rows]


def live_runs(s: Session) -> list[WhatIfRun]:
    return [_run(r) for r in s.scalars(select(WhatIfRunRow).where(WhatIfRunRow.state.in_(LIVE)))]


def start(s: Session, run_id: str, now: datetime, replica: str) -> bool:
    """queued -> running; False when the run is no longer queued (cancelled, failed)."""
    n = s.execute(update(WhatIfRunRow).where(WhatIfRunRow.id == run_id, WhatIfRunRow.state == RunState.QUEUED.value)
                  .values(state=RunState.RUNNING.value, started_at=now, heartbeat_at=now, replica=replica)).rowcount  # type: ignore[attr-defined]
    return bool(n)


def heartbeat(s: Session, run_id: str, progress: Decimal, now: datetime) -> bool:
    """Record progress of a running run; answers whether it should stop (cancel asked, or no longer running)."""
    n = s.execute(update(WhatIfRunRow).where(WhatIfRunRow.id == run_id,
                                             WhatIfRunRow.state == RunState.RUNNING.value)
                  .values(progress=progress, heartbeat_at=now)).rowcount  # type: ignore[attr-defined]
    if not n:
        return True
    return bool(s.scalar(select(WhatIfRunRow.cancel_requested).where(WhatIfRunRow.id == run_id)))


def finish(s: Session, run_id: str, state: RunState, now: datetime, *, result: dict[str, Any] | None = None,
           error: str = "") -> bool:
    """A live run ends (done, failed, cancelled); False when it had already ended."""
    values: dict[str, Any] = {"state": state.value, "finished_at": now, "heartbeat_at": now, "error": error}
    if result is not None:
        values |= {"result": result, "progress": Decimal(1)}
    n = s.execute(update(WhatIfRunRow).where(WhatIfRunRow.id == run_id, WhatIfRunRow.state.in_(LIVE))
                  .values(**values)).rowcount  # type: ignore[attr-defined]
    return bool(n)


def request_cancel(s: Session, run_id: str, now: datetime) -> None:
    """A queued run is cancelled at once; a running one is asked to stop (its process ends it)."""
    s.execute(update(WhatIfRunRow).where(WhatIfRunRow.id == run_id, WhatIfRunRow.state == RunState.QUEUED.value)
              .values(state=RunState.CANCELLED.value, finished_at=now, error="cancelled before it started"))
    s.execute(update(WhatIfRunRow).where(WhatIfRunRow.id == run_id, WhatIfRunRow.state == RunState.RUNNING.value)
              .values(cancel_requested=True))


def fail_stale(s: Session, before: datetime, now: datetime) -> list[str]:
    """Live runs whose heartbeat is older than ``before``: failed (their process is gone)."""
    ids = list(s.scalars(select(WhatIfRunRow.id).where(WhatIfRunRow.state.in_(LIVE),
                                                        WhatIfRunRow.heartbeat_at < before)))
    for run_id in ids:
        s.execute(update(WhatIfRunRow).where(WhatIfRunRow.id == run_id, WhatIfRunRow.state.in_(LIVE))
                  .values(state=RunState.FAILED.value, finished_at=now,
                          error=f"the server process running it stopped (no heartbeat since before "
                                f"{before.isoformat()}); start the run again"))
    return ids


def past_grants(s: Session, since: datetime, now: datetime) -> list[PastGrant]:
    """Allocations granted before ``now`` and held at some instant of [since, now) (zero-length ones and
    draws on a reservation left out), one per (lease, node, grant instant)."""
    q = (select(AllocationRow.lease_id, LeaseRow.tenant_id, LeaseRow.form, NodeRow.name, DeviceRow.model,
                AllocationRow.milli, AllocationRow.start_at, AllocationRow.end_at)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
         .join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .where(AllocationRow.start_at < now, AllocationRow.drawn_from.is_(None),
                or_(AllocationRow.end_at.is_(None), and_(AllocationRow.end_at > since,
                                                         AllocationRow.end_at > AllocationRow.start_at)))
         .order_by(AllocationRow.start_at, AllocationRow.lease_id, NodeRow.name))
    acc: dict[tuple[str, str, datetime], list[Any]] = {}
    for lease, tenant, form, node, model, milli, start_at, end_at in s.execute(q):
        g = acc.get((lease, node, start_at))
        if g is None:
            acc[(lease, node, start_at)] = [tenant, form, model, 1, milli, end_at]
        else:
            g[3] += 1
            g[4] = max(g[4], milli)
            g[5] = None if g[5] is None or end_at is None else max(g[5], end_at)
    return [PastGrant(lease, g[0], g[1], node, g[2], g[3], g[4], start_at, g[5])
            for (lease, node, start_at), g in acc.items()]

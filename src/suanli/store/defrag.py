"""Defragmentation rows as domain objects (tables of :mod:`suanli.store.defrag_tables`; docs/defrag.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from suanli.domain.defrag import OPEN_STATES, DefragSettings, PlanState
from suanli.errors import NotFoundError
from suanli.store.defrag_tables import DefragMoveRow, DefragPlanRow, DefragSettingRow, MigratableLeaseRow
from suanli.store.tables import DeviceRow, NodeRow


@dataclass(frozen=True)
class MoveRecord:
    id: int
    plan_id: str
    lease_id: str
    state: PlanState
    old_devices: tuple[int, ...]
    new_grants: tuple[tuple[int, int, int], ...]
    frees: str
    due_at: datetime | None
    done_at: datetime | None
    reason: str


@dataclass(frozen=True)
class PlanRecord:
    id: str
    state: PlanState
    auto: bool
    targets: list[dict[str, Any]]
    summary: str
    notice_s: int
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    finished_at: datetime | None
    moves: tuple[MoveRecord, ...]


@dataclass(frozen=True)
class DeviceSpot:
    """Where a device is, in the names the rest of the product uses (node, slot, model, site)."""

    node: str
    slot: int
    model: str
    site: str


def device_spots(s: Session, device_ids: Iterable[int]) -> dict[int, DeviceSpot]:
    """The node, slot, model and site of each device id (a device no longer in the fleet is absent)."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = s.execute(select(DeviceRow.id, NodeRow.name, DeviceRow.slot, DeviceRow.model, NodeRow.site)
                     .join(NodeRow, NodeRow.id == DeviceRow.node_id).where(DeviceRow.id.in_(ids)))
    return {int(r[0]): DeviceSpot(str(r[1]), int(r[2]), str(r[3]), str(r[4])) for r in rows}


def settings(s: Session) -> DefragSettings:
    row = s.execute(select(DefragSettingRow).order_by(DefragSettingRow.id.desc()).limit(1)).scalar_one_or_none()
    return DefragSettings() if row is None else DefragSettings(row.auto, row.notice_s, row.discount_pct)


def add_settings(s: Session, st: DefragSettings, by: str, at: datetime) -> None:
    s.add(DefragSettingRow(auto=st.auto, notice_s=st.notice_s, discount_pct=st.discount_pct, set_by=by, set_at=at))
    s.flush()


def mark_migratable(s: Session, lease_id: str, discount_pct: Decimal, notice_s: int, at: datetime) -> None:
    """The lease's class, with the discount and notice in force at its first grant (kept if already there)."""
    if s.get(MigratableLeaseRow, lease_id) is None:
        s.add(MigratableLeaseRow(lease_id=lease_id, discount_pct=discount_pct, notice_s=notice_s, created_at=at))
        s.flush()


def migratable(s: Session, lease_ids: Iterable[str]) -> dict[str, tuple[Decimal, int]]:
    ids = list(lease_ids)
    if not ids:
        return {}
    rows = s.execute(select(MigratableLeaseRow).where(MigratableLeaseRow.lease_id.in_(ids))).scalars()
    return {r.lease_id: (r.discount_pct, r.notice_s) for r in rows}


def all_migratable(s: Session) -> list[str]:
    return list(s.execute(select(MigratableLeaseRow.lease_id)).scalars())


def _move(r: DefragMoveRow) -> MoveRecord:
    return MoveRecord(r.id, r.plan_id, r.lease_id, PlanState(r.state), tuple(json.loads(r.old_devices)),
                      tuple((int(g[0]), int(g[1]), int(g[2])) for g in json.loads(r.new_grants)),
                      r.frees, r.due_at, r.done_at, r.reason)


def _plan(r: DefragPlanRow, moves: list[MoveRecord]) -> PlanRecord:
    return PlanRecord(r.id, PlanState(r.state), r.auto, json.loads(r.targets), r.summary, r.notice_s, r.created_by,
                      r.created_at, r.approved_by, r.approved_at, r.finished_at, tuple(moves))


def insert_plan(s: Session, *, plan_id: str, auto: bool, targets: list[dict[str, Any]], summary: str, notice_s: int,
                by: str, at: datetime, moves: list[tuple[str, list[int], list[tuple[int, int, int]], str]]) -> None:
    """A proposed plan and its moves (lease, devices now, grants after, what it frees). The database
    refuses a lease already in another open move (IntegrityError)."""
    s.add(DefragPlanRow(id=plan_id, state=PlanState.PROPOSED.value, auto=auto, targets=json.dumps(targets),
                        summary=summary, notice_s=notice_s, created_by=by, created_at=at))
    s.flush()
    for lease_id, old, new, frees in moves:
        s.add(DefragMoveRow(plan_id=plan_id, lease_id=lease_id, state=PlanState.PROPOSED.value,
                            old_devices=json.dumps(old), new_grants=json.dumps([list(g) for g in new]), frees=frees,
                            reason=""))
    s.flush()


def get_plan(s: Session, plan_id: str, *, for_update: bool = False) -> PlanRecord:
    q = select(DefragPlanRow).where(DefragPlanRow.id == plan_id)
    if for_update:
        q = q.with_for_update()
    row = s.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no defrag plan {plan_id!r} (`suanli defrag plans` lists them)", plan=plan_id)
    moves = s.execute(select(DefragMoveRow).where(DefragMoveRow.plan_id == plan_id).order_by(DefragMoveRow.id))
    return _plan(row, [_move(m) for m in moves.scalars()])


def list_plans(s: Session, limit: int = 50) -> list[PlanRecord]:
    rows = list(s.execute(select(DefragPlanRow).order_by(DefragPlanRow.created_at.desc(), DefragPlanRow.id.desc())
                          .limit(limit)).scalars())
    if not rows:
        return []
    moves: dict[str, list[MoveRecord]] = {r.id: [] for r in rows}
    for m in s.execute(select(DefragMoveRow).where(DefragMoveRow.plan_id.in_(list(moves)))
                       .order_by(DefragMoveRow.id)).scalars():
        moves[m.plan_id].append(_move(m))
    return [_plan(r, moves[r.id]) for r in rows]


def open_plan_ids(s: Session) -> list[str]:
    return list(s.execute(select(DefragPlanRow.id).where(DefragPlanRow.state.in_([x.value for x in OPEN_STATES]))
                          .order_by(DefragPlanRow.created_at)).scalars())


def set_plan(s: Session, plan_id: str, **values: Any) -> None:
    if isinstance(values.get("state"), PlanState):
        values["state"] = values["state"].value
    s.execute(update(DefragPlanRow).where(DefragPlanRow.id == plan_id).values(**values))


def set_move(s: Session, move_id: int, **values: Any) -> None:
    if isinstance(values.get("state"), PlanState):
        values["state"] = values["state"].value
    s.execute(update(DefragMoveRow).where(DefragMoveRow.id == move_id).values(**values))


def set_plan_moves(s: Session, plan_id: str, frm: Iterable[PlanState], **values: Any) -> None:
    """Every move of the plan in one of ``frm``."""
    if isinstance(values.get("state"), PlanState):
        values["state"] = values["state"].value
    s.execute(update(DefragMoveRow).where(DefragMoveRow.plan_id == plan_id,
                                          DefragMoveRow.state.in_([x.value for x in frm])).values(**values))


def due_moves(s: Session, now: datetime) -> list[MoveRecord]:
    rows = s.execute(select(DefragMoveRow).where(DefragMoveRow.state == PlanState.NOTIFIED.value,
                                                 DefragMoveRow.due_at <= now).order_by(DefragMoveRow.due_at,
                                                                                       DefragMoveRow.id))
    return [_move(r) for r in rows.scalars()]


def notified_move_of(s: Session, lease_id: str) -> MoveRecord | None:
    """The lease's open move that its job has been told about (the job's notice file reads it)."""
    row = s.execute(select(DefragMoveRow).where(DefragMoveRow.lease_id == lease_id,
                                                DefragMoveRow.state == PlanState.NOTIFIED.value)).scalar_one_or_none()
    return None if row is None else _move(row)


def leases_in_open_moves(s: Session) -> set[str]:
    return set(s.execute(select(DefragMoveRow.lease_id).where(
        DefragMoveRow.state.in_([x.value for x in OPEN_STATES]))).scalars())

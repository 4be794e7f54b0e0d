"""Oversubscription factors, burstable leases and contention counts (tables of
:mod:`suanli.store.oversub_tables`); returns domain objects (:mod:`suanli.domain.oversub`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from suanli.domain.leases import LeaseState
from suanli.domain.oversub import BurstableTerms, Factor
from suanli.store.oversub_tables import BurstableContentionRow, BurstableLeaseRow, OversubFactorRow
from suanli.store.tables import AllocationRow, DeviceRow, LeaseRow, NodeRow

LIVE = (LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value)


def _factor(r: OversubFactorRow) -> Factor:
    return Factor(r.id, r.site, r.model, r.factor, r.discount_pct, r.offered, r.set_by, r.set_at)


def add_factor(s: Session, *, site: str, model: str, factor: Decimal, discount_pct: Decimal, offered: bool,
               set_by: str, at: datetime) -> Factor:
    row = OversubFactorRow(site=site, model=model, factor=factor, discount_pct=discount_pct, offered=offered,
                           set_by=set_by, set_at=at)
    s.add(row)
    s.flush()
    return _factor(row)


def all_factors(s: Session) -> list[Factor]:
    """Every factor row (history included), oldest first."""
    return [_factor(r) for r in s.scalars(select(OversubFactorRow).order_by(OversubFactorRow.set_at,
                                                                             OversubFactorRow.id))]


def record_lease(s: Session, lease_id: str, terms: BurstableTerms) -> None:
    s.add(BurstableLeaseRow(lease_id=lease_id, sold_milli=terms.sold_milli, compute_milli=terms.compute_milli,
                            factor=terms.factor, discount_pct=terms.discount_pct, factor_id=terms.factor_id))
    s.flush()


def lease_terms(s: Session, lease_id: str) -> BurstableTerms | None:
    r = s.get(BurstableLeaseRow, lease_id)
    return None if r is None else BurstableTerms(r.sold_milli, r.compute_milli, r.factor, r.discount_pct, r.factor_id)


def _live_in(start: datetime, end: datetime | None) -> Any:
    """A live lease's allocation window overlaps [start, end) (as :func:`suanli.store.leases.busy_allocations`)."""
    cond = and_(LeaseRow.state.in_(LIVE), or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > start))
    if end is not None:
        cond = and_(cond, AllocationRow.start_at < end)
    return cond


def pool_devices(s: Session, start: datetime, end: datetime | None) -> set[int]:
    """Devices holding a live burstable slice at some instant of [start, end): the burstable pool."""
    q = (select(AllocationRow.device_id).distinct()
         .join(BurstableLeaseRow, BurstableLeaseRow.lease_id == AllocationRow.lease_id)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .where(_live_in(start, end), AllocationRow.drawn_from.is_(None)))
    return set(s.scalars(q))


@dataclass(frozen=True)
class PoolHold:
    """A live burstable slice held on a device now."""

    device_id: int
    node: str
    slot: int
    model: str
    site: str
    lease_id: str
    charge_milli: int
    sold_milli: int
    compute_milli: int
    discount_pct: Decimal
    factor: Decimal


def pool_holds(s: Session, at: datetime) -> list[PoolHold]:
    q = (select(AllocationRow.device_id, NodeRow.name, DeviceRow.slot, DeviceRow.model, NodeRow.site,
                AllocationRow.lease_id, AllocationRow.milli, BurstableLeaseRow.sold_milli,
                BurstableLeaseRow.compute_milli, BurstableLeaseRow.discount_pct, BurstableLeaseRow.factor)
         .join(BurstableLeaseRow, BurstableLeaseRow.lease_id == AllocationRow.lease_id)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
         .join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .where(LeaseRow.state.in_(LIVE), AllocationRow.start_at <= at,
                or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > at))
         .order_by(NodeRow.name, DeviceRow.slot, AllocationRow.lease_id))
    return [PoolHold(*r) for r in s.execute(q)]


@dataclass(frozen=True)
class Contention:
    device_id: int
    samples: int
    saturated: int
    last_at: datetime


def contention(s: Session, device_ids: Iterable[int] | None = None) -> dict[int, Contention]:
    q = select(BurstableContentionRow)
    if device_ids is not None:
        q = q.where(BurstableContentionRow.device_id.in_(list(device_ids)))
    return {r.device_id: Contention(r.device_id, r.samples, r.saturated, r.last_at) for r in s.scalars(q)}


def count_sample(s: Session, device_id: int, at: datetime, saturated: bool) -> bool:
    """Count one telemetry sample of a pool device once (a sample not newer than the last counted is
    ignored). Returns whether it was counted."""
    row = s.get(BurstableContentionRow, device_id)
    if row is None:
        s.add(BurstableContentionRow(device_id=device_id, samples=1, saturated=int(saturated), last_at=at))
        return True
    if at <= row.last_at:
        return False
    row.samples += 1
    row.saturated += int(saturated)
    row.last_at = at
    return True


def device_ids_by_slot(s: Session) -> dict[tuple[str, int], int]:
    """(node name, slot) -> device id."""
    q = select(NodeRow.name, DeviceRow.slot, DeviceRow.id).join(NodeRow, NodeRow.id == DeviceRow.node_id)
    return {(n, slot): d for n, slot, d in s.execute(q)}


@dataclass(frozen=True)
class BurstableSpan:
    """A burstable lease's allocation window (any state: ended ones were billed too)."""

    model: str
    site: str
    start: datetime
    end: datetime | None
    charge_milli: int
    sold_milli: int
    discount_pct: Decimal


def burstable_spans(s: Session, start: datetime, end: datetime) -> list[BurstableSpan]:
    q = (select(DeviceRow.model, NodeRow.site, AllocationRow.start_at, AllocationRow.end_at, AllocationRow.milli,
                BurstableLeaseRow.sold_milli, BurstableLeaseRow.discount_pct)
         .join(BurstableLeaseRow, BurstableLeaseRow.lease_id == AllocationRow.lease_id)
         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
         .join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .where(or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > start), AllocationRow.start_at < end,
                LeaseRow.state.not_in((LeaseState.CANCELLED.value, LeaseState.REJECTED.value))))
    return [BurstableSpan(*r) for r in s.execute(q)]

"""What the placement loop (``service.order_loop``) reads and writes for a batch of orders, in few
statements: the batch's idempotency keys in one query, the tenants that hold reservations in one
query, and each order's rows (order; lease; its first event, host holds, allocations and quoted rates)
in one Core INSERT per table (the placement loop has the audit recorder write their audit rows in one
statement: :func:`suanli.store.audit_recorder.deferred`).

The database's rules stay the enforcement: the unique (tenant, key) index refuses a second order
with one key (:class:`~suanli.errors.ConflictError`), the capacity rule (:mod:`suanli.store.capacity`)
refuses an allocation beyond a device's capacity (:class:`~suanli.store.leases.StaleClaim`: place
again on fresh state).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from suanli.domain.leases import LeaseState, ProductForm
from suanli.domain.quotes import QuotedRate
from suanli.domain.shapes import Hold
from suanli.errors import ConflictError
from suanli.store import capacity
from suanli.store import shapes as shapes_store
from suanli.store.audit_recorder import current_actor
from suanli.store.leases import OrderRecord, StaleClaim, find_order_by_key
from suanli.store.money_tables import LeaseQuoteRow
from suanli.store.shapes_tables import NodeAllocationRow
from suanli.store.tables import AllocationRow, LeaseEventRow, LeaseRow, OrderRow

_RESERVATION_STATES = (LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value, LeaseState.INTERRUPTED.value,
                       LeaseState.SUSPENDED.value)


def orders_by_key(s: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OrderRecord]:
    """The orders already recorded under these (tenant, idempotency key) pairs (one query; the few
    found are then read whole)."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    found = s.execute(select(OrderRow.tenant_id, OrderRow.idempotency_key)
                      .where(tuple_(OrderRow.tenant_id, OrderRow.idempotency_key).in_(pairs))).all()
    out: dict[tuple[str, str], OrderRecord] = {}
    for tenant, key in found:
        record = find_order_by_key(s, tenant, key)
        if record is not None:
            out[(tenant, key)] = record
    return out


def tenants_with_reservations(s: Session, tenants: Iterable[str]) -> set[str]:
    """Which of these tenants hold a reservation lease (live or waiting to be re-placed): only their
    orders need to look for one to draw on."""
    ids = sorted(set(tenants))
    if not ids:
        return set()
    return set(s.scalars(select(LeaseRow.tenant_id).distinct().where(
        LeaseRow.tenant_id.in_(ids), LeaseRow.form == ProductForm.RESERVATION.value,
        LeaseRow.state.in_(_RESERVATION_STATES))))


@dataclass(frozen=True)
class GrantRows:
    """One order's rows, as :func:`insert_order_rows` writes them."""

    order_id: str
    tenant_id: str
    key: str
    form: ProductForm
    spec: dict[str, Any]
    order_start: datetime
    end: datetime | None
    status: str
    reason: str
    arrival: datetime
    ordered_by: str | None
    committed: Decimal | None
    lease_id: str
    state: LeaseState
    lease_start: datetime
    activated_at: datetime | None
    lease_reason: str
    commission_rate: Decimal
    placement: str
    now: datetime
    grants: Sequence[tuple[int, int, int]]
    """(device id, milli, memory MiB) from ``lease_start`` to ``end``"""
    drawn_from: str | None
    rates: Sequence[QuotedRate] = ()
    binding: bool = False
    currency: str = ""
    queued: bool = False
    """QUEUE: the order row exists (it waited in the queue): updated, not inserted."""
    holds: Sequence[Hold] = ()
    """SHAPES: the host resources held per node over the allocations' window (:mod:`suanli.store.shapes`)."""
    actor: str = ""
    """The name the lease's first event records (empty: the session's actor when written)."""


def insert_order_rows(s: Session, g: GrantRows) -> None:
    """Write the order, its lease, the lease's first event (pending -> state), its host holds, its
    allocations and its quoted rates: one Core INSERT per table (several rows in one statement), in the
    order of their foreign keys, on the session's transaction (the audit recorder sees each statement).
    Not ORM objects: the unit of work cost more CPU than the order's placement (docs/performance.md)."""
    if g.queued:  # QUEUE: it waited; its row keeps its arrival
        s.execute(update(OrderRow).where(OrderRow.id == g.order_id)
                  .values(status=g.status, reason=g.reason, end_at=g.end, committed=g.committed))
        insert_grants(s, [g], orders=False)
    else:
        insert_grants(s, [g])


def insert_grants(s: Session, grants: Sequence[GrantRows], *, orders: bool = True) -> None:
    """The rows of several orders (:func:`insert_order_rows`), one INSERT per table for all of them
    (BATCHWRITE: the placement loop's plain grants of one batch)."""
    actor = current_actor(s).name
    key = grants[0].key if len(grants) == 1 else None
    if orders:
        _insert(s, key, _ORDERS, [dict(
            id=g.order_id, tenant_id=g.tenant_id, idempotency_key=g.key, form=g.form.value, spec=g.spec,
            start_at=g.order_start, end_at=g.end, status=g.status, reason=g.reason, created_at=g.arrival,
            ordered_by=g.ordered_by, committed=g.committed) for g in grants])
    _insert(s, key, _LEASES, [dict(
        id=g.lease_id, order_id=g.order_id, tenant_id=g.tenant_id, form=g.form.value, state=g.state.value,
        start_at=g.lease_start, end_at=g.end, activated_at=g.activated_at, ended_at=None, reason=g.lease_reason,
        commission_rate=g.commission_rate, placement=g.placement, created_at=g.now) for g in grants])
    _insert(s, key, _EVENTS, [dict(lease_id=g.lease_id, at=g.now, from_state=LeaseState.PENDING.value,
                                   to_state=g.state.value, reason=g.reason, actor=g.actor or actor) for g in grants])
    _insert(s, key, _HOLDS, [row for g in grants  # nodes first
                             for row in shapes_store.hold_rows(g.lease_id, g.holds, g.lease_start, g.end)])
    _insert(s, key, _ALLOCATIONS, [dict(lease_id=g.lease_id, device_id=device_id, milli=milli, memory_mib=memory,
                                        start_at=g.lease_start, end_at=g.end, drawn_from=g.drawn_from)
                                   for g in grants for device_id, milli, memory in g.grants])
    _insert(s, key, _QUOTES, [dict(lease_id=g.lease_id, model=r.model, site=r.site, valid_from=r.valid_from,
                                   device_hour=r.device_hour, list_device_hour=r.list_device_hour, plan_id=r.plan,
                                   basis=r.basis.value, binding=g.binding, currency=g.currency, quoted_at=r.quoted_at)
                              for g in grants for r in g.rates])


_ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]
_LEASES: Table = LeaseRow.__table__  # type: ignore[assignment]
_EVENTS: Table = LeaseEventRow.__table__  # type: ignore[assignment]
_HOLDS: Table = NodeAllocationRow.__table__  # type: ignore[assignment]
_ALLOCATIONS: Table = AllocationRow.__table__  # type: ignore[assignment]
_QUOTES: Table = LeaseQuoteRow.__table__  # type: ignore[assignment]


def _insert(s: Session, key: str | None, table: Table, rows: list[dict[str, Any]]) -> None:
    """One INSERT of ``rows`` (none: no statement); the database's refusals as the placement loop expects them
    (``key``: the one order's idempotency key; None for several orders)."""
    if not rows:
        return
    try:
        s.execute(insert(table), rows if len(rows) > 1 else rows[0])
    except (IntegrityError, OperationalError) as e:
        _refused(e, key)
        raise


def _refused(e: IntegrityError | OperationalError, key: str | None) -> None:
    if capacity.is_over_capacity(e) or getattr(e.orig, "sqlstate", None) == "40P01":
        raise StaleClaim(str(e.orig)) from None
    if isinstance(e, IntegrityError) and str(e.statement or "").startswith("INSERT INTO orders"):
        which = "an idempotency key of the batch was" if key is None else f"idempotency key {key!r} was"
        raise ConflictError(f"{which} already used by another order", key=key) from None


def order_record(g: GrantRows, ordered_by_name: str | None) -> OrderRecord:
    """The order as :func:`suanli.store.leases.get_order` would read it back (no query)."""
    return OrderRecord(g.order_id, g.tenant_id, g.form.value, g.spec, g.order_start, g.end, g.status, g.reason,
                       g.arrival, g.lease_id, ordered_by_name)

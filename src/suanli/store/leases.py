"""Orders, leases, allocations and lease events.

Exclusivity: :func:`claim_devices` bumps each granted device's ``alloc_version`` with a
compare-and-set (``UPDATE … WHERE id = ? AND alloc_version = ?``) in device-id order. Two
transactions that planned on the same device snapshot cannot both commit a grant: the second
finds the version moved (PostgreSQL re-checks the WHERE after the first commits; SQLite runs
writers one at a time) and must re-place. :func:`device_versions` must be read *before*
:func:`busy_allocations` in the same transaction, so the versions are never newer than the
allocations the plan was made from.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from suanli.domain.leases import Allocation, Lease, LeaseState, ProductForm, as_of, due_moves
from suanli.errors import ConflictError, NotFoundError
from suanli.store import capacity
from suanli.store import shapes as shapes_store
from suanli.store.audit_recorder import current_actor
from suanli.store.db import unsynchronized
from suanli.store.defrag_tables import MigratableLeaseRow
from suanli.store.oversub_tables import BurstableLeaseRow
from suanli.store.tables import (
    AccountRow,
    AllocationRow,
    DeviceRow,
    LeaseEventRow,
    LeaseRow,
    NodeRow,
    OrderRow,
)


class StaleClaim(Exception):
    """A device changed hands between planning and claiming: re-place and retry."""


@dataclass(frozen=True)
class DeviceInfo:
    id: int
    node_id: int
    node: str
    slot: int
    model: str
    site: str
    supplier: str
    fabric: str
    node_state: str
    cpu_cores: int
    memory_gib: int
    version: int


@dataclass(frozen=True)
class Busy:
    device_id: int
    milli: int
    memory_mib: int


@dataclass(frozen=True)
class OrderRecord:
    id: str
    tenant_id: str
    form: str
    spec: dict[str, Any]
    start: datetime
    end: datetime | None
    status: str
    reason: str
    created_at: datetime
    lease_id: str | None
    ordered_by: str | None = None
    """The name of the account that placed it: the organisation's own or one of its members (None
    for orders placed before members existed)."""


def device_versions(s: Session) -> list[DeviceInfo]:
    q = (select(DeviceRow, NodeRow).join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .order_by(NodeRow.id, DeviceRow.slot))
    return [DeviceInfo(d.id, n.id, n.name, d.slot, d.model, n.site, n.supplier, n.fabric, n.state,
                       n.cpu_cores, n.memory_gib, d.alloc_version) for d, n in s.execute(q)]


def _overlaps(start: datetime, end: datetime | None) -> Any:
    """Allocation window [a.start, a.end) overlaps [start, end) (None = open-ended)."""
    cond = or_(AllocationRow.end_at.is_(None), AllocationRow.end_at > start)
    if end is not None:
        cond = and_(cond, AllocationRow.start_at < end)
    return cond


def busy_allocations(s: Session, start: datetime, end: datetime | None, *, exclude_lease: str | None = None) -> list[Busy]:
    """Allocations of live leases overlapping the window, summed per device (worst case over the window).
    Allocations drawn on a reservation are not counted: the reservation's own already are."""
    q = (select(AllocationRow.device_id, AllocationRow.milli, AllocationRow.memory_mib)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .where(LeaseRow.state.in_([LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value]), _overlaps(start, end),
                AllocationRow.drawn_from.is_(None)))
    if exclude_lease is not None:
        q = q.where(AllocationRow.lease_id != exclude_lease)
    return [Busy(d, m, mem) for d, m, mem in s.execute(q)]


def claim_devices(s: Session, claims: Mapping[int, int], moves: Mapping[int, int] | None = None) -> None:
    """Compare-and-set ``alloc_version`` for every device id -> version seen, moving it up by one (or by
    ``moves[id]``: a batch's several grants on one device, BATCHWRITE); raise StaleClaim on a race."""
    for device_id in sorted(claims):
        res = s.execute(unsynchronized(s, update(DeviceRow)
                        .where(DeviceRow.id == device_id, DeviceRow.alloc_version == claims[device_id])
                        .values(alloc_version=DeviceRow.alloc_version + (1 if moves is None else moves[device_id]))))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleClaim(device_id)


def find_order_by_key(s: Session, tenant_id: str, key: str) -> OrderRecord | None:
    row = s.scalar(select(OrderRow).where(OrderRow.tenant_id == tenant_id, OrderRow.idempotency_key == key))
    return None if row is None else _order(s, row)


def _order(s: Session, row: OrderRow) -> OrderRecord:
    lease_id = s.scalar(select(LeaseRow.id).where(LeaseRow.order_id == row.id))
    by = s.scalar(select(AccountRow.name).where(AccountRow.id == row.ordered_by)) if row.ordered_by else None
    return OrderRecord(row.id, row.tenant_id, row.form, row.spec, row.start_at, row.end_at, row.status,
                       row.reason, row.created_at, lease_id, by)


def insert_order(s: Session, *, order_id: str, tenant_id: str, key: str, form: ProductForm, spec: dict[str, Any],
                 start: datetime, end: datetime | None, status: str, reason: str, now: datetime) -> None:
    s.add(OrderRow(id=order_id, tenant_id=tenant_id, idempotency_key=key, form=form.value, spec=spec,
                   start_at=start, end_at=end, status=status, reason=reason, created_at=now))
    try:
        s.flush()
    except IntegrityError:
        raise ConflictError(f"idempotency key {key!r} was already used by another order", key=key) from None


def insert_lease(s: Session, *, lease_id: str, order_id: str, tenant_id: str, form: ProductForm, state: LeaseState,
                 start: datetime, end: datetime | None, activated_at: datetime | None, reason: str,
                 commission_rate: Decimal, placement: str, now: datetime) -> None:
    s.add(LeaseRow(id=lease_id, order_id=order_id, tenant_id=tenant_id, form=form.value, state=state.value,
                   start_at=start, end_at=end, activated_at=activated_at, ended_at=None, reason=reason,
                   commission_rate=commission_rate, placement=placement, created_at=now))
    s.flush()


def insert_allocations(s: Session, lease_id: str, grants: Iterable[tuple[int, int, int]], start: datetime,
                       end: datetime | None, *, drawn_from: str | None = None) -> None:
    """Record the grant: each (device, milli, memory) from ``start`` (the grant instant, or a
    reservation's start) to ``end``. The database refuses a row beyond the device's capacity
    (:mod:`suanli.store.capacity`): that raises StaleClaim (re-place on fresh state)."""
    for device_id, milli, memory in grants:
        s.add(AllocationRow(lease_id=lease_id, device_id=device_id, milli=milli, memory_mib=memory,
                            start_at=start, end_at=end, drawn_from=drawn_from))
    _flush_allocations(s)


def _flush_allocations(s: Session, stmt: Any = None) -> None:
    try:
        if stmt is not None:
            s.execute(stmt)
        s.flush()
    except (IntegrityError, OperationalError) as e:
        if capacity.is_over_capacity(e) or _is_deadlock(e):
            raise StaleClaim(str(e.orig)) from None
        raise


def _is_deadlock(e: DBAPIError) -> bool:
    """PostgreSQL broke a lock cycle between two grants (SQLSTATE 40P01): retry like a stale claim."""
    return getattr(e.orig, "sqlstate", None) == "40P01"


def add_event(s: Session, lease_id: str, at: datetime, frm: LeaseState | str, to: LeaseState, reason: str,
              actor: str | None = None) -> None:
    """``actor``: who caused it (default: the session's current actor, ``system`` outside a request)."""
    s.execute(insert(LeaseEventRow), dict(lease_id=lease_id, at=at, from_state=str(frm), to_state=to.value,
                                          reason=reason, actor=actor or current_actor(s).name))  # now, in order


def lease_events(s: Session, lease_id: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The lease's stored events; with ``now``, followed by the moves due at ``now`` that the background
    pass has not stored yet (:func:`suanli.domain.leases.due_moves`, by ``system``), as it will store them."""
    rows = s.scalars(select(LeaseEventRow).where(LeaseEventRow.lease_id == lease_id).order_by(LeaseEventRow.id))
    out = [{"at": r.at, "from": r.from_state, "to": r.to_state, "reason": r.reason, "actor": r.actor or "system"}
           for r in rows]
    if now is not None:
        row = s.get(LeaseRow, lease_id)
        if row is not None:
            out += [{"at": m.at, "from": m.frm.value, "to": m.to.value, "reason": m.reason, "actor": "system"}
                    for m in due_moves(_lease(row, []), now)]
    return out


def _allocations(s: Session, lease_ids: Sequence[str]) -> dict[str, list[Allocation]]:
    out: dict[str, list[Allocation]] = {lid: [] for lid in lease_ids}
    if not lease_ids:
        return out
    for lease_id, *rest in s.connection().execute(_ALLOCATIONS, {"lease_ids": list(lease_ids)}).all():
        out[lease_id].append(Allocation(*rest))
    return out


# Built once: plain columns, not ORM entities, and no statement to build per call (a page of 50
# leases read this way costs half of what entities and a fresh statement did; docs/platform.md).
_ALLOCATIONS = (select(AllocationRow.lease_id, DeviceRow.id, NodeRow.name, DeviceRow.slot, DeviceRow.model,
                       NodeRow.site, NodeRow.supplier, NodeRow.fabric, AllocationRow.milli, AllocationRow.memory_mib,
                       AllocationRow.start_at, AllocationRow.end_at, AllocationRow.drawn_from,
                       BurstableLeaseRow.sold_milli, BurstableLeaseRow.discount_pct,
                       MigratableLeaseRow.discount_pct)
                .join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
                .join(NodeRow, NodeRow.id == DeviceRow.node_id)
                .outerjoin(BurstableLeaseRow, BurstableLeaseRow.lease_id == AllocationRow.lease_id)  # OVERSUB
                .outerjoin(MigratableLeaseRow, MigratableLeaseRow.lease_id == AllocationRow.lease_id)  # DEFRAG
                .where(AllocationRow.lease_id.in_(bindparam("lease_ids", expanding=True)))
                .order_by(NodeRow.name, DeviceRow.slot))


LEASE_COLUMNS = (LeaseRow.id, LeaseRow.order_id, LeaseRow.tenant_id, LeaseRow.form, LeaseRow.state, LeaseRow.start_at,
                 LeaseRow.end_at, LeaseRow.activated_at, LeaseRow.ended_at, LeaseRow.reason, LeaseRow.commission_rate,
                 LeaseRow.placement, LeaseRow.created_at)
"""A lease row's columns, for reads that build :class:`Lease` from plain rows (:func:`_lease` takes either)."""
_LEASES = select(*LEASE_COLUMNS).order_by(LeaseRow.created_at.desc(), LeaseRow.id)


_FORMS = {f.value: f for f in ProductForm}
_STATES = {st.value: st for st in LeaseState}  # a dict lookup: Enum(value) costs more, 50 times a page


def _lease(r: Any, allocs: list[Allocation]) -> Lease:
    """From a :class:`LeaseRow` or a row of :data:`LEASE_COLUMNS` (same attribute names)."""
    return Lease(r.id, r.order_id, r.tenant_id, _FORMS[r.form], _STATES[r.state], r.start_at, r.end_at,
                 r.activated_at, r.ended_at, r.reason, r.commission_rate, r.placement, r.created_at, tuple(allocs))


def _on_supplier_nodes(supplier: str | Any) -> Any:
    """Leases holding (or having held) a device on a node of ``supplier``."""
    return LeaseRow.id.in_(
        select(AllocationRow.lease_id).join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
        .join(NodeRow, NodeRow.id == DeviceRow.node_id).where(NodeRow.supplier == supplier))


def derived_state(now: datetime | Any) -> Any:
    """SQL for the state a lease has at ``now`` (:func:`suanli.domain.leases.as_of`): a fixed term
    whose end has passed is ended (from scheduled, active or suspended), a reservation whose start
    has come is active; anything else is its stored state."""
    return case(
        (and_(LeaseRow.state.in_([LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value, LeaseState.SUSPENDED.value]),
              LeaseRow.end_at.is_not(None), LeaseRow.end_at <= now), LeaseState.ENDED.value),
        (and_(LeaseRow.state == LeaseState.SCHEDULED.value, LeaseRow.start_at <= now), LeaseState.ACTIVE.value),
        else_=LeaseRow.state)


def count_by_state(s: Session, now: datetime) -> dict[str, int]:
    """How many leases are in each state at ``now`` (derived, as :func:`derived_state`)."""
    st = derived_state(now)
    return {k: int(v) for k, v in s.execute(select(st, func.count()).group_by(st))}


def get_lease(s: Session, lease_id: str, *, tenant_id: str | None = None, supplier: str | None = None,
              for_update: bool = False, now: datetime | None = None) -> Lease:
    """One lease; ``tenant_id``/``supplier`` limit it to that tenant's, or to one on that supplier's
    nodes (not found otherwise, as if it did not exist). ``now``: as it is at that instant
    (:func:`suanli.domain.leases.as_of`); without it, as stored."""
    params: dict[str, Any] = {"lease_id": lease_id}  # plain columns: no ORM object to build
    if tenant_id is not None:
        params["tenant_id"] = tenant_id
    if supplier is not None:
        params["supplier"] = supplier
    q = _get_statement(tenant_id is not None, supplier is not None, for_update)
    row = s.execute(q, params).first()
    if row is None:
        raise NotFoundError(f"no lease {lease_id!r} visible to you", lease=lease_id)
    lease = _lease(row, _allocations(s, [row.id])[row.id])
    return lease if now is None else as_of(lease, now)


@functools.lru_cache(maxsize=8)
def _get_statement(by_tenant: bool, by_supplier: bool, for_update: bool) -> Any:
    """The statement of :func:`get_lease` for the filters given, values as bound parameters: built once per
    combination (building it per call cost as much CPU as the end's other statements; ORDERS2)."""
    q = select(*LEASE_COLUMNS).where(LeaseRow.id == bindparam("lease_id"))
    if by_tenant:
        q = q.where(LeaseRow.tenant_id == bindparam("tenant_id"))
    if by_supplier:
        q = q.where(_on_supplier_nodes(bindparam("supplier")))
    return q.with_for_update() if for_update else q


def list_leases(s: Session, *, tenant_id: str | None = None, states: Iterable[LeaseState] | None = None,
                supplier: str | None = None, overlapping: tuple[datetime, datetime] | None = None,
                offset: int = 0, limit: int | None = None, lease_id: str | None = None,
                now: datetime | None = None) -> list[Lease]:
    """Leases, newest first. ``now``: as they are at that instant (:func:`suanli.domain.leases.as_of`),
    and ``states`` and ``overlapping`` (the active window) are judged on that state, in SQL, so a
    page holds exactly the leases that match; without ``now``, as stored."""
    params: dict[str, Any] = {"offset": offset}
    if lease_id is not None:
        params["lease_id"] = lease_id
    if tenant_id is not None:
        params["tenant_id"] = tenant_id
    if states is not None:
        params["states"] = [st.value for st in states]
    if supplier is not None:
        params["supplier"] = supplier
    if overlapping is not None:
        params["window_start"], params["window_end"] = overlapping
    if now is not None and (states is not None or overlapping is not None):
        params["now"] = now
    if limit is not None:
        params["limit"] = limit
    q = _list_statement(lease_id is not None, tenant_id is not None, states is not None, now is not None,
                        supplier is not None, overlapping is not None, limit is not None)
    rows = _plain(s.connection().execute(q, params))
    allocs = _allocations(s, [r.id for r in rows])
    leases = [_lease(r, allocs[r.id]) for r in rows]
    return leases if now is None else [as_of(x, now) for x in leases]


def _plain(result: Any) -> list[Any]:
    """The rows of a Core result as named tuples: a SQLAlchemy row's attribute costs ~1 µs, a named
    tuple's ~50 ns, and :func:`_lease` reads 13 per lease (docs/performance.md)."""
    cls = _row_class(tuple(result.keys()))
    return [cls._make(r) for r in result.all()]


@functools.lru_cache(maxsize=16)
def _row_class(keys: tuple[str, ...]) -> Any:
    return namedtuple("LeaseColumns", keys, rename=True)  # (the columns are known when the statement runs)


@functools.lru_cache(maxsize=128)
def _list_statement(by_lease: bool, by_tenant: bool, by_states: bool, derived: bool, by_supplier: bool,
                    by_window: bool, limited: bool) -> Any:
    """The statement of :func:`list_leases` for the filters given, values as bound parameters: built
    once per combination, not per call (building it cost as much as running it)."""
    q = _LEASES
    now: Any = bindparam("now")
    if by_lease:  # a lease token's one lease
        q = q.where(LeaseRow.id == bindparam("lease_id"))
    if by_tenant:
        q = q.where(LeaseRow.tenant_id == bindparam("tenant_id"))
    if by_states:
        state = derived_state(now) if derived else LeaseRow.state
        q = q.where(state.in_(bindparam("states", expanding=True)))
    if by_supplier:
        q = q.where(_on_supplier_nodes(bindparam("supplier")))
    if by_window:
        activated: Any = LeaseRow.activated_at
        ended: Any = LeaseRow.ended_at
        if derived:  # a reservation started by now: active from its start; a term over: ended at its end
            activated = func.coalesce(LeaseRow.activated_at, case(
                (and_(LeaseRow.state == LeaseState.SCHEDULED.value, LeaseRow.start_at <= now), LeaseRow.start_at)))
            ended = func.coalesce(LeaseRow.ended_at, case(
                (derived_state(now) == LeaseState.ENDED.value, LeaseRow.end_at)))
        q = q.where(activated.is_not(None), activated < bindparam("window_end"),
                    or_(ended.is_(None), ended > bindparam("window_start")))
    q = q.offset(bindparam("offset"))
    return q.limit(bindparam("limit")) if limited else q


def update_lease(s: Session, lease_id: str, *, known: Lease | None = None, **values: Any) -> None:
    """``known``: the lease as read ``for_update`` in this transaction; the audit recorder takes its
    values as the row before the change instead of reading the row again (one statement less)."""
    mapping = {"state": "state", "end": "end_at", "ended_at": "ended_at", "activated_at": "activated_at",
               "reason": "reason", "start": "start_at"}
    vals = {mapping[k]: (v.value if isinstance(v, LeaseState) else v) for k, v in values.items()}
    stmt = update(LeaseRow).where(LeaseRow.id == lease_id).values(**vals)
    if known is not None and known.id == lease_id:
        before = {"id": known.id, "tenant_id": known.tenant_id, "state": known.state.value, "start_at": known.start,
                  "end_at": known.end, "activated_at": known.activated_at, "ended_at": known.ended_at,
                  "reason": known.reason}
        stmt = stmt.execution_options(audit_before={(known.id,): {c: before[c] for c in ("id", "tenant_id", *vals)}})
    s.execute(unsynchronized(s, stmt))


def leases_due(s: Session, now: datetime) -> list[tuple[str, str]]:
    """(lease id, state) of leases whose scheduled start or fixed end has passed."""
    q = select(LeaseRow.id, LeaseRow.state).where(or_(
        and_(LeaseRow.state == LeaseState.SCHEDULED.value, LeaseRow.start_at <= now),
        and_(LeaseRow.state.in_([LeaseState.ACTIVE.value, LeaseState.SCHEDULED.value, LeaseState.SUSPENDED.value]),
             LeaseRow.end_at.is_not(None), LeaseRow.end_at <= now),
    ))
    return [(i, st) for i, st in s.execute(q)]


def list_orders(s: Session, *, tenant_id: str | None, offset: int = 0, limit: int | None = None) -> list[OrderRecord]:
    q = select(OrderRow).order_by(OrderRow.created_at.desc(), OrderRow.id)
    if tenant_id is not None:
        q = q.where(OrderRow.tenant_id == tenant_id)
    q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return [_order(s, r) for r in s.scalars(q)]


def get_order(s: Session, order_id: str, *, tenant_id: str | None) -> OrderRecord:
    q = select(OrderRow).where(OrderRow.id == order_id)
    if tenant_id is not None:
        q = q.where(OrderRow.tenant_id == tenant_id)
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(f"no order {order_id!r} visible to you", order=order_id)
    return _order(s, row)


def set_order_status(s: Session, order_id: str, status: str, reason: str = "") -> None:
    s.execute(update(OrderRow).where(OrderRow.id == order_id).values(status=status, reason=reason))


def end_open_allocations(s: Session, lease_id: str, at: datetime) -> None:
    """Give up the lease's devices at ``at``: allocations still held end there. Nothing is
    deleted: one given up in the instant it started, or before its (reserved) start, is kept
    zero-length (``end_at = start_at``: held and billed for zero seconds)."""
    not_started = AllocationRow.start_at >= at
    s.execute(unsynchronized(s, update(AllocationRow)  # one statement for both cases (an end is on every lease's path)
              .where(AllocationRow.lease_id == lease_id,
                     or_(and_(not_started, or_(AllocationRow.end_at.is_(None),
                                               AllocationRow.end_at > AllocationRow.start_at)),
                         and_(AllocationRow.start_at < at, or_(AllocationRow.end_at.is_(None),
                                                               AllocationRow.end_at > at))))
              .values(end_at=case((not_started, AllocationRow.start_at),
                                  else_=literal(at, type_=AllocationRow.end_at.type)))))
    shapes_store.end_open_holds(s, lease_id, at)  # its host resources go with its devices


def move_allocation_end(s: Session, lease_id: str, old_end: datetime, new_end: datetime) -> None:
    """Extend the lease's current allocations (those ending at ``old_end``); StaleClaim if the
    database finds a device over capacity in the added time."""
    _flush_allocations(s, update(AllocationRow)
                       .where(AllocationRow.lease_id == lease_id, AllocationRow.end_at == old_end,
                              AllocationRow.end_at > AllocationRow.start_at)
                       .values(end_at=new_end))
    _flush_allocations(s, shapes_store.hold_end_moved(lease_id, old_end, new_end))

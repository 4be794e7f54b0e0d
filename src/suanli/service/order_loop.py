"""The placement loop: orders wait in a queue and are placed in batches, one transaction per batch.

Formulation (docs/orders.md "How an order is placed"):

- **Admission, in the request.** :mod:`suanli.service.orders` authorises the order, parses it and
  refuses at once (422) one that can never fit the fleet, whatever is busy
  (:func:`suanli.service.placement.check_order` on the loop's cached fleet shape). It then enqueues
  a :class:`Ticket` and waits for its future, at most ``settings.order_wait_seconds``.
- **One placer per process.** A single worker thread takes everything queued (up to
  :data:`BATCH_MAX`, arrival order) and, in ONE transaction: takes the placement lock
  (:mod:`suanli.store.placement_lock`: PostgreSQL advisory lock, so replicas queue instead of
  racing; SQLite's ``BEGIN IMMEDIATE`` already serialises), reads the fleet state once per time
  window (:func:`~suanli.service.placement.snapshot`: devices, live allocations, catalog, price
  book, floors, sites), places each order in turn against it, and commits once. Orders placed
  later in the batch see the earlier ones' grants (the snapshot is mutated by
  :func:`~suanli.service.placement.plan`).
- **One write per table per batch (BATCHWRITE).** A plain grant (:func:`_plain`: no member's spend
  limit, no reservation to draw on, not a queued order, not migratable, no queue head to respect)
  is decided in memory and its rows join the batch's pending rows; they are written together
  (:func:`_write_pending`: one compare-and-set per device, moving its version by the number of
  grants on it; one INSERT per table; one audit INSERT, each row naming its own order's actor) in
  one SAVEPOINT, before any order that writes or reads more than its own rows, before a snapshot is
  read, and at the batch's end. Any other order is placed and written at once in a SAVEPOINT of its
  own, so that its refusal (a member's spend limit, an idempotency conflict, a window that closed)
  undoes it alone. When the database refuses the pending rows (another writer claimed a device
  since the snapshot; the capacity, mixing or unique rule), they are undone together and each of
  their orders is placed again alone on a fresh snapshot: an order is never refused for another's
  row.
- **Exclusivity stays in the database.** Each grant still bumps its devices' ``alloc_version``
  with a compare-and-set (other writers that claim capacity, e.g. a health re-placement, keep
  planning on their own snapshot), and the capacity constraint (:mod:`suanli.store.capacity`)
  refuses any allocation beyond a device's capacity. Either refusal rolls that order's SAVEPOINT
  back; it is placed again on a fresh snapshot (at most :data:`ATTEMPTS` times).
- **Recorded time is granted time.** Each order's grant instant is read from the clock inside the
  batch's transaction, after its claim (as before); its arrival is when the request enqueued it.
- **Results after the commit.** The worker resolves each ticket's future only once the batch is
  committed (a failed commit fails every ticket of the batch: nothing of it was written). The
  HTTP route awaits the future on the event loop (``asyncio.wrap_future``: the worker's result
  reaches the loop through ``call_soon_threadsafe``), so a waiting order holds no thread.
- **Bounded wait.** A ticket not yet taken when its wait runs out is withdrawn atomically
  (``Future.cancel`` succeeds only before the worker marks it running) and answered 503 ``busy``
  with ``Retry-After``; nothing was written. One already taken is waited for: a batch is short.
- **Idempotency.** The key is looked up inside the batch's transaction, before the order is
  placed: a second ticket with the same key in one batch, or a retry after the first committed,
  gets the first result (replayed); the unique constraint on (tenant, key) stays the enforcement.

The worker thread starts when a ticket arrives and no worker runs, and ends when the queue is
empty: an idle platform (a test's) holds no thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import secrets
import threading
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.audit import AuditActor
from suanli.domain.leases import LeaseState, OrderSpec
from suanli.domain.oversub import BurstableTerms, SliceClass
from suanli.errors import BusyError, CapacityError, ConflictError
from suanli.ledger.plans import PricePlan
from suanli.ledger.quotes import Quote, binds
from suanli.service import (
    defrag,
    flops_mix,
    oversub,
    queue_admission,
    quotes,
    reservations,
    shapes,
    shapes_billing,
    slicing,
    spend,
)
from suanli.service.placement import Plan, Rejection, Snapshot, plan, snapshot
from suanli.service.platform import Platform
from suanli.store import audit_recorder, order_batch, placement_lock
from suanli.store import leases as store
from suanli.store import slices as slices_store
from suanli.store.leases import DeviceInfo, OrderRecord, StaleClaim

BATCH_MAX = 64
"""Most orders placed in one transaction (the rest wait for the next batch)."""
ATTEMPTS = 3
"""Placements of one order in a batch when the database refuses its claim (a concurrent writer)."""
RETRY_AFTER_S = 1
"""``Retry-After`` of a 503 ``busy``: the queue was longer than the wait bound allowed."""


@dataclass(frozen=True)
class OrderResult:
    order: OrderRecord
    replayed: bool
    quote: Quote | None = None
    """The lease's quote as shown, built at the grant from the rows just written (None: read it)."""
    enforcement: str | None = None
    """SLICES: a slice's enforcement as the grant recorded it (None: read it)."""


@dataclass(eq=False)
class Ticket:
    """One order waiting for the placement loop."""

    actor: Principal
    spec: OrderSpec
    stored: dict[str, Any]
    """The order document as stored (what an idempotent retry must repeat)."""
    key: str
    arrival: datetime
    context: contextvars.Context
    """The request's context (the audit trail's actor), in which the worker places the order."""
    future: Future[OrderResult] = field(default_factory=Future)
    taken: threading.Event = field(default_factory=threading.Event)
    """Set when the worker takes it: from then on it is placed, whatever its wait."""
    queued: str | None = None
    """QUEUE: the id of the queued order this ticket places again (:mod:`suanli.service.order_queue`)."""


class PlacementLoop:
    def __init__(self, p: Platform, *, batch_max: int = BATCH_MAX) -> None:
        self._p = p
        self.batch_max = batch_max
        self._lock = threading.Lock()
        self._queue: deque[Ticket] = deque()
        self._worker: threading.Thread | None = None
        self._shape: Snapshot | None = None
        self._refresh = threading.Lock()
        self.shape_reads = 0
        """fleet shapes :meth:`refresh_shape` began to read (one at a time)"""
        self._open = threading.Event()
        self._open.set()

    # ------------------------------------------------------------------ request side
    def shape(self) -> Snapshot | None:
        """The fleet as the last batch saw it (for :func:`check_order`); None before the first."""
        return self._shape

    def refresh_shape(self) -> Snapshot:
        """Read the fleet now (its own short read transaction), one thread at a time. A caller that finds a read
        in progress waits for it, and takes it if it began after the caller asked, or if there was no shape at
        all when it asked (the orders arriving together at a start all found none, and each read one)."""
        asked, first = self.shape_reads, self._shape is None  # reads begun so far (each ended once we lock)
        with self._refresh:
            if self._shape is not None and (first or self.shape_reads > asked):
                return self._shape
            self.shape_reads += 1
            p = self._p
            with p.tx() as s:
                now = p.clock.now()
                self._shape = snapshot(p, s, now, None)
            return self._shape

    def submit(self, ticket: Ticket) -> None:
        with self._lock:
            self._queue.append(ticket)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="suanli-placement", daemon=True)
                self._worker.start()

    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def pause(self) -> None:
        """Stop taking tickets (those queued wait, and time out with 503 past their bound); the
        batch in flight finishes. For maintenance and for tests that need a held queue."""
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    # ------------------------------------------------------------------ worker side
    def _take(self) -> list[Ticket]:
        with self._lock:
            batch: list[Ticket] = []
            while self._queue and len(batch) < self.batch_max:
                t = self._queue.popleft()
                if t.future.set_running_or_notify_cancel():  # False: withdrawn (503) before we got to it
                    t.taken.set()
                    batch.append(t)
            if not batch:
                self._worker = None
            return batch

    def _run(self) -> None:
        while self._open.wait() and (batch := self._take()):
            shape = place_batch(self._p, batch)
            if shape is not None:
                self._shape = shape


def loop_for(p: Platform) -> PlacementLoop:
    """The platform's placement loop (one per platform, made on first use)."""
    return p.attached(PlacementLoop)


def busy(p: Platform) -> BusyError:
    wait = p.settings.order_wait_seconds
    return BusyError(f"the order queue did not reach this order within {wait:g} s (the server is busy); nothing was "
                     f"written: send it again after {RETRY_AFTER_S} s (with the same Idempotency-Key)",
                     retry_after_s=RETRY_AFTER_S, wait_s=wait)


def wait(p: Platform, ticket: Ticket) -> OrderResult:
    """Block until the ticket's result (sync callers: CLI in-process paths, tests)."""
    try:
        return ticket.future.result(timeout=p.settings.order_wait_seconds)
    except FutureTimeout:
        if ticket.future.cancel():
            raise busy(p) from None
        return ticket.future.result()


async def wait_async(p: Platform, ticket: Ticket) -> OrderResult:
    """Await the ticket's result without holding a thread (the HTTP route)."""
    fut = asyncio.wrap_future(ticket.future)
    try:
        return await asyncio.wait_for(asyncio.shield(fut), p.settings.order_wait_seconds)
    except TimeoutError:
        if ticket.future.cancel():
            raise busy(p) from None
        return await fut


# ---------------------------------------------------------------------------- one batch
Outcome = OrderResult | BaseException
Window = tuple[datetime | None, datetime | None]


@dataclass
class _Batch:
    """What one batch's transaction read once and shares between its orders."""

    snaps: dict[Window, Snapshot]
    """fleet snapshot per time window (start None: now), mutated by each grant placed on it"""
    prior: dict[tuple[str, str], OrderRecord]
    """(tenant, idempotency key) -> the order recorded under it (before or in this batch)"""
    with_reservations: set[str]
    """tenants holding a reservation (only their orders look for one to draw on)"""
    plans: dict[str, list[PricePlan]]
    """tenant -> the plans that price its orders (read once per batch)"""
    devices: dict[int, dict[int, DeviceInfo]] = field(default_factory=dict)
    outcomes: dict[Ticket, Outcome] = field(default_factory=dict)
    """each ticket's outcome so far, in the batch's order (a pending grant's until its rows are written)"""
    pending: _Pending = field(default_factory=lambda: _Pending())

    def device(self, snap: Snapshot, device_id: int) -> DeviceInfo:
        by_id = self.devices.get(id(snap))
        if by_id is None:
            by_id = self.devices[id(snap)] = {d.id: d for d in snap.devices}
        return by_id[device_id]


@dataclass
class _Pending:
    """BATCHWRITE: the plain grants decided in memory and not yet written (docs/performance.md "One write per
    table per batch"), written together by :func:`_write_pending`: one compare-and-set per device, one INSERT
    per table, one audit INSERT."""

    tickets: list[Ticket] = field(default_factory=list)
    """the tickets resolved by these grants (also those that replayed one of them by its key)"""
    rows: list[order_batch.GrantRows] = field(default_factory=list)
    slices: list[tuple[str, str, int, int]] = field(default_factory=list)
    extras: list[tuple[Ticket, str, list[tuple[int, str, int, int]], BurstableTerms | None]] = field(
        default_factory=list)
    """(ticket, lease id, MIG instances, burstable terms): the rows of its own a grant writes after the others"""
    seen: dict[int, int] = field(default_factory=dict)
    """device id -> its version when the first of these grants claimed it"""
    moves: dict[int, int] = field(default_factory=dict)
    """device id -> how many of these grants claimed it"""
    actors: dict[str, AuditActor] = field(default_factory=dict)
    """order and lease id -> the actor its audit rows name"""

    def claim(self, claims: dict[int, int]) -> None:
        for device_id, version in claims.items():
            self.seen.setdefault(device_id, version)
            self.moves[device_id] = self.moves.get(device_id, 0) + 1

    def add(self, t: Ticket, rows: order_batch.GrantRows, outcome: Plan, who: AuditActor) -> None:
        self.rows.append(dataclasses.replace(rows, actor=who.name))
        self.tickets.append(t)
        self.actors[rows.order_id] = self.actors[rows.lease_id] = who
        sl = outcome.slice
        if sl is not None:
            self.slices.append((rows.lease_id, sl.enforcement, sl.share_pct, sl.memory_mib))
        if (sl is not None and sl.mig) or outcome.burstable is not None:
            self.extras.append((t, rows.lease_id, [] if sl is None else sl.mig, outcome.burstable))


def place_batch(p: Platform, batch: list[Ticket]) -> Snapshot | None:
    """Place the batch in one transaction; resolve every ticket after the commit. Returns a fleet
    snapshot read in the batch (the shape for the next admissions), if one was read."""
    outcomes: list[tuple[Ticket, Outcome]] = []
    shape: Snapshot | None = None
    try:
        with p.tx() as s:  # no second connection inside (Platform.agent_nodes_held)
            placement_lock.lock_placement(s)
            tenants = {t.actor.tenant_id for t in batch}
            b = _Batch({}, order_batch.orders_by_key(s, ((t.actor.tenant_id, t.key) for t in batch)),
                       order_batch.tenants_with_reservations(s, tenants), quotes.tenants_plans(s, tenants))
            for t in batch:
                b.outcomes[t] = t.context.run(_place_one, p, s, t, b)
                if b.snaps and shape is None:
                    shape = next(iter(b.snaps.values()))
            _write_pending(p, s, b)
            outcomes = list(b.outcomes.items())
    except BaseException as e:
        outcomes = [(t, e) for t in batch]
        shape = None
    for t, out in outcomes:
        if isinstance(out, BaseException):
            t.future.set_exception(out)
        else:
            t.future.set_result(out)
    return shape


def _place_one(p: Platform, s: Session, t: Ticket, b: _Batch, alone: bool = False) -> Outcome:
    """Place one ticket of the batch: a plain grant is decided in memory and joins the batch's pending rows;
    any other order (and every order when ``alone``) first has the pending rows written, then is placed and
    written at once in a SAVEPOINT of its own."""
    prior = b.prior.get((t.actor.tenant_id, t.key))
    if prior is not None:
        if prior.spec != t.stored:
            return ConflictError(f"Idempotency-Key {t.key!r} was used for a different order ({prior.id}); "
                                 "use a new key", order=prior.id)
        if prior.id in b.pending.actors:  # a pending order's
            b.pending.tickets.append(t)  # replayed again if the pending rows are refused
        return OrderResult(prior, replayed=True)
    if not alone and _plain(p, t, b):
        try:
            deferred = _attempt_one(p, s, t, b, defer=True)
        except Exception as e:
            b.snaps.clear()  # the snapshot may hold this order's claim
            return e
        if deferred is not None:
            assert isinstance(deferred, OrderResult)  # a refusal is never deferred
            b.prior[(t.actor.tenant_id, t.key)] = deferred.order
            return deferred
    _write_pending(p, s, b)  # what this order reads and writes comes after the batch's earlier grants
    for _attempt in range(ATTEMPTS):
        try:
            with s.begin_nested():
                out = attempt_now(p, s, t, b)
        except StaleClaim:
            b.snaps.clear()  # another writer moved a device: read the fleet again
            continue
        except Exception as e:
            b.snaps.clear()  # the snapshot may hold this order's undone grant
            if placement_lock.is_lost_race(e):
                continue
            return e
        record = out.order if isinstance(out, OrderResult) else out[1]
        b.prior[(t.actor.tenant_id, t.key)] = record  # the same key again in this batch: a replay
        return out if isinstance(out, OrderResult) else out[0]
    return ConflictError("the order's devices kept changing hands while it was placed; retry the order")


def _plain(p: Platform, t: Ticket, b: _Batch) -> bool:
    """Can this order's grant wait for the batch's common write? Not when placing it writes or reads more than
    its own rows: a member's spend (locked and checked against the rows), a reservation to draw on, a queued
    order's row, a migratable lease's class, a queue head it must not delay (read from the allocations)."""
    return (t.queued is None and t.actor.organisation is None and t.actor.tenant_id not in b.with_reservations
            and not t.spec.migratable and queue_admission.current_head(p) is None)


def _write_pending(p: Platform, s: Session, b: _Batch) -> None:
    """Write the batch's pending grants (:class:`_Pending`) in one SAVEPOINT. When the database refuses them
    (a device claimed by another writer since the snapshot, the capacity or mixing rule, a key used by another
    replica) they are undone together and each of their orders is placed again alone, on a fresh snapshot,
    where its own refusal is its own."""
    pend, b.pending = b.pending, _Pending()
    if not pend.rows:
        return
    try:
        with s.begin_nested(), audit_recorder.row_actors(s, pend.actors), audit_recorder.deferred(s):
            store.claim_devices(s, pend.seen, pend.moves)
            order_batch.insert_grants(s, pend.rows)
            slices_store.record_grants(s, pend.slices)
            for t, lease_id, mig, terms in pend.extras:  # as its order's actor
                t.context.run(_extras, s, lease_id, mig, terms)
    except Exception:
        b.snaps.clear()
        for t in pend.tickets:
            b.prior.pop((t.actor.tenant_id, t.key), None)
        for t in pend.tickets:
            b.outcomes[t] = t.context.run(_place_one, p, s, t, b, True)


def attempt_now(p: Platform, s: Session, t: Ticket, b: _Batch) -> OrderResult | tuple[CapacityError, OrderRecord]:
    """Place the order and write its rows now (inside the caller's SAVEPOINT)."""
    out = _attempt_one(p, s, t, b, defer=False)
    assert out is not None  # only a deferred attempt gives up
    return out


def _extras(s: Session, lease_id: str, mig: list[tuple[int, str, int, int]], terms: BurstableTerms | None) -> None:
    slices_store.record_instances(s, lease_id, mig)  # SLICES: a MIG instance names its allocation's row
    oversub.record_grant(s, lease_id, terms)  # OVERSUB: the burstable terms


def _attempt_one(p: Platform, s: Session, t: Ticket, b: _Batch, *, defer: bool
                 ) -> OrderResult | tuple[CapacityError, OrderRecord] | None:
    """Place the order on the batch's snapshot. ``defer``: a plain grant (:func:`_plain`) is not written but
    added to the batch's pending rows (its device claims at once, its rows once its result is built); None when
    it cannot be (a snapshot to read first, a refusal to record): the caller places it again without ``defer``,
    after writing the pending rows."""
    actor, spec = t.actor, t.spec
    limit = None if defer else spend.lock_spender(s, actor)  # a member's orders serialise on its row
    planned = p.clock.now()
    start = max(spec.start or planned, planned)
    order_id = t.queued or "ord_" + secrets.token_hex(6)
    # the tenant's reservations (term plans) first: drawn allocations name the reservation
    drawn = (reservations.draw(p, s, actor.tenant_id, spec, start, seed=order_id)
             if actor.tenant_id in b.with_reservations and spec.slice_class is SliceClass.GUARANTEED
             and not spec.shape.asked  # SHAPES: a reservation holds its nodes' share, no more
             else None)  # OVERSUB: a burstable slice never draws on a term's reservation
    outcome: Plan | Rejection
    if drawn is not None:
        outcome, snap, drawn_from = drawn
    else:
        window = (start if spec.start is not None and spec.start > planned else None, spec.end)
        if defer and window not in b.snaps and b.pending.rows:
            return None  # a snapshot read now would not see the pending grants
        snap = b.snaps.get(window) or b.snaps.setdefault(window, snapshot(p, s, start, spec.end))
        prices = flops_mix.tenant_prices(b.plans[actor.tenant_id], snap.book, actor.tenant_id, order_id, planned,
                                         {m.name: m.p for m in snap.catalog})  # a flops mix by the tenant's rates
        outcome, drawn_from = plan(p, snap, spec, seed=order_id, prices=prices), None
        behind = queue_admission.behind_head(p, s, t, outcome, start)  # QUEUE: it may not delay the queue's head
        if behind is not None:
            b.snaps.clear()  # the snapshot holds the plan just refused
            outcome = behind
    if defer and isinstance(outcome, Rejection):
        return None  # its rows are written at once (or it waits in the queue); a refusal left the snapshot as it was
    if isinstance(outcome, Rejection):
        waiting = queue_admission.wait_in_queue(p, s, t, order_id, outcome)  # QUEUE: docs/queue.md
        if waiting is not None:
            return OrderResult(waiting, replayed=False)
        rows = _rows(p, t, order_id, p.clock.now(), None, outcome, None, Decimal(0) if actor.organisation else None)
        order_batch.insert_order_rows(s, rows)
        record = order_batch.order_record(rows, actor.name)
        return CapacityError(f"order {order_id} rejected: {record.reason}", order=order_id,
                             lease=rows.lease_id), record
    claims = snap.versions(outcome.grants)
    if defer:
        b.pending.claim(claims)
    else:
        store.claim_devices(s, claims)
    for other in (snap, *b.snaps.values()):
        other.claimed(claims)
    if drawn_from is None:  # a fleet grant: snapshots of other windows do not know it
        for w in [w for w, x in b.snaps.items() if x is not snap]:
            del b.snaps[w]
    granted = p.clock.now()  # the grant instant: read after the claim, inside the committing transaction
    rows = _rows(p, t, order_id, granted, outcome, None, drawn_from, None)
    rows = dataclasses.replace(rows, holds=shapes.holds_for(snap, outcome, spec))  # SHAPES: host resources held
    held = {(b.device(snap, g[0]).model, b.device(snap, g[0]).site) for g in outcome.grants}
    device_p = {m.name: m.p for m in snap.catalog}
    rates = quotes.grant_rates(p, s, actor.tenant_id, order_id, held, granted, rows.lease_start,
                               plans=b.plans[actor.tenant_id], book=snap.book,
                               device_p=device_p)  # the price at the grant
    if rates is not None:
        rows = dataclasses.replace(rows, rates=tuple(rates), binding=binds(rows.lease_start, rows.end, granted),
                                   currency=p.settings.currency)
    if actor.organisation is not None:  # a member: its spend is checked against its limit once recorded
        rows = dataclasses.replace(rows, ordered_by=None)
    mig: Decimal | None = None
    if not defer:  # (deferred: written with the batch's other plain grants, once its result is whole, below)
        with audit_recorder.deferred(s):  # the grant's audit rows in one INSERT (an exception: the savepoint undoes all)
            order_batch.insert_order_rows(s, rows)
            oversub.record_grant(s, rows.lease_id, outcome.burstable)  # OVERSUB: the burstable terms
            slicing.record(s, rows.lease_id, outcome.slice)  # SLICES: enforcement and MIG instance
            mig = defrag.record_grant(s, rows.lease_id, spec, granted)  # DEFRAG: the migratable class and its discount
            if actor.organisation is not None:  # refused over its limit: this order's savepoint rolls back
                spend.record_order(p, s, actor, order_id, rows.lease_id, limit)
    terms = outcome.burstable
    held_rows = [(d.model, d.site, d.supplier, d.node,
                  defrag.discounted_share(Decimal(milli) / 1000 if terms is None else terms.billed_share, mig),
                  drawn_from)
                 for d, milli in ((b.device(snap, g[0]), g[1]) for g in outcome.grants)]
    quote = quotes.shown_quote(p, rows.lease_start, rows.end, rows.now, held_rows, device_p,
                               None if rates is None else (tuple(rates), rows.binding, rows.currency))
    quote = oversub.mark_quote(quote, None if terms is None else terms.discount_pct)
    quote = defrag.mark_quote(quote, mig)  # DEFRAG: the migratable discount, said
    quote = shapes_billing.with_resource_quote(s, quote, rows.holds, rows.lease_start, rows.end, granted)  # SHAPES
    if defer:  # last: an exception before this point leaves nothing of this order pending
        b.pending.add(t, rows, outcome, audit_recorder.current_actor(s))
    return OrderResult(order_batch.order_record(rows, actor.name), replayed=False, quote=quote,
                       enforcement=None if outcome.slice is None else outcome.slice.enforcement)


def _rows(p: Platform, t: Ticket, order_id: str, now: datetime, ok: Plan | None, rej: Rejection | None,
          drawn_from: str | None, committed: Decimal | None) -> order_batch.GrantRows:
    """The order keeps its arrival (``created_at``) and the start it asked for; the lease, its
    event and its allocations start at ``now``, the instant of the grant (or of the rejection),
    or at the reserved start when that is later."""
    spec = t.spec
    status = "fulfilled" if ok else "rejected"
    reason = ok.reason if ok else f"{rej.reason.value}: {rej.message}"  # type: ignore[union-attr]
    start = max(spec.start or now, now)
    if spec.end is not None and spec.end <= start:
        raise ConflictError(f"the order's window ended ({spec.end.isoformat()}) before it could be granted "
                            f"({start.isoformat()}); order a new window")
    state = LeaseState.REJECTED if ok is None else LeaseState.ACTIVE if start <= now else LeaseState.SCHEDULED
    return order_batch.GrantRows(
        order_id=order_id, tenant_id=t.actor.tenant_id, key=t.key, form=spec.form, spec=t.stored,
        order_start=spec.start or t.arrival, end=spec.end, status=status, reason=reason, arrival=t.arrival,
        ordered_by=t.actor.account_id, committed=committed, lease_id="ls_" + secrets.token_hex(6), state=state,
        lease_start=start, activated_at=start if state is LeaseState.ACTIVE else None,
        lease_reason="" if ok else reason, commission_rate=Decimal(p.settings.commission_rate),
        placement=(f"drawn on reservation {drawn_from}: " if drawn_from else "") + (ok.reason if ok else ""),
        now=now, grants=ok.grants if ok else (), drawn_from=drawn_from, queued=t.queued is not None)

"""Orders, leases and the lease state machine.

An **order** is a tenant's request for one product form over a time window; placing it yields a
**lease**: the right to exact devices (or fractions of one) for that window, the unit of billing.

Lease lifecycle (any other move is a :class:`~suanli.errors.ConflictError`)::

    pending ──► scheduled ──► active ──► ended
       │            │          │ ▲ ▲
       │            │          │ │ └──── suspended ──► ended    (low balance; resumed after a top-up)
       │            │          ▼ │
       │            │       interrupted ──► ended              (node failure; re-placed, or spot: ended)
       ▼            ▼
    rejected    cancelled

``pending``: received, not yet placed. ``scheduled``: devices held for a future window (a
reservation). ``rejected`` carries a reason: no_capacity, invalid, not_allowed. A lease holds
devices only while scheduled or active: becoming interrupted or suspended gives them up at that
second, and coming back re-places it (on the same devices when they are still free).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from suanli.domain import queueing
from suanli.domain.defrag import discounted, parse_migratable
from suanli.domain.oversub import SliceClass, billed_share, parse_slice_class
from suanli.domain.shapes import SHAPE_FIELDS, Shape, parse_shape
from suanli.domain.slicing import parse_allow_unenforced
from suanli.errors import ConflictError, ValidationError


class ProductForm(StrEnum):
    SERVER = "server"
    GPU = "gpu"
    SLICE = "slice"
    CLUSTER = "cluster"
    FLOPS = "flops"
    CPU = "cpu"
    """A CPU-only instance: cores, RAM (and NIC, disk) on a node, no device (docs/orders.md "Custom shapes")."""
    RESERVATION = "reservation"
    """Devices a term or take-or-pay plan holds for its tenant (made by the plan, never ordered);
    the tenant's orders draw on it. Not metered, not run on: see docs/billing.md "Term"."""


ORDERABLE_FORMS = tuple(f for f in ProductForm if f is not ProductForm.RESERVATION)


class LeaseState(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    INTERRUPTED = "interrupted"
    SUSPENDED = "suspended"


class RejectReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    INVALID = "invalid"
    NOT_ALLOWED = "not_allowed"


class Topology(StrEnum):
    """Where the devices of a ``flops`` order may lie."""

    NODE = "node"
    FABRIC = "fabric"
    ANY = "any"


TRANSITIONS: dict[LeaseState, frozenset[LeaseState]] = {
    LeaseState.PENDING: frozenset({LeaseState.SCHEDULED, LeaseState.ACTIVE, LeaseState.REJECTED}),
    LeaseState.SCHEDULED: frozenset({LeaseState.ACTIVE, LeaseState.CANCELLED, LeaseState.INTERRUPTED}),
    LeaseState.ACTIVE: frozenset({LeaseState.ENDED, LeaseState.INTERRUPTED, LeaseState.SUSPENDED}),
    LeaseState.INTERRUPTED: frozenset({LeaseState.ACTIVE, LeaseState.SCHEDULED, LeaseState.ENDED}),
    LeaseState.SUSPENDED: frozenset({LeaseState.ACTIVE, LeaseState.ENDED}),
    LeaseState.ENDED: frozenset(),
    LeaseState.CANCELLED: frozenset(),
    LeaseState.REJECTED: frozenset(),
}
LIVE_STATES = frozenset({LeaseState.SCHEDULED, LeaseState.ACTIVE})
"""States in which a lease holds devices."""
PAUSED_STATES = frozenset({LeaseState.INTERRUPTED, LeaseState.SUSPENDED})
"""States of a lease that gave up its devices but may come back for the rest of its term."""


def check_transition(lease_id: str, current: LeaseState, to: LeaseState) -> None:
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final state)"
        raise ConflictError(
            f"lease {lease_id} is {current.value}; it cannot become {to.value} (allowed from {current.value}: {allowed})",
            lease=lease_id, state=current.value, to=to.value,
        )


MAX_TERM = timedelta(days=3 * 366)
MAX_AHEAD = timedelta(days=366)
"""A reservation starts at most this far ahead (a start years away would hold devices for nothing)."""
FUTURE_SLACK = timedelta(seconds=5)
"""A start this little in the past still counts as "now" (client clock skew)."""


@dataclass(frozen=True)
class OrderSpec:
    """A validated order. Quantities by form:

    - ``server``: ``quantity`` whole nodes;  ``cluster``: ``quantity`` whole nodes in one fabric domain;
    - ``gpu``: ``quantity`` whole devices on one node;
    - ``slice``: one device fraction: ``share_pct`` (1–100) compute and ``memory_mib`` (> 0);
    - ``flops``: ``p`` PFLOPS, with ``min_memory_gib``, ``vendors``, ``topology``.
    Filters for every form: ``models``, ``sites``, ``regions``, ``max_rtt_ms`` (only sites whose
    measured round-trip time is at most this many ms; see :mod:`suanli.store.site_rtt`).
    """

    form: ProductForm
    quantity: int = 1
    models: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    share_pct: int = 0
    memory_mib: int = 0
    p: Decimal = Decimal(0)
    min_memory_gib: int = 0
    topology: Topology = Topology.FABRIC
    start: datetime | None = None
    end: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    max_rtt_ms: Decimal | None = None
    slice_class: SliceClass = SliceClass.GUARANTEED
    """OVERSUB: a burstable slice's compute may be oversold (:mod:`suanli.domain.oversub`)."""
    wait_until: datetime | None = None
    """QUEUE: the order may wait in the queue until then (docs/queue.md); None: refused if it does not fit now."""
    priority: str = "normal"
    """QUEUE: the priority class (:class:`suanli.domain.queueing.Priority`)."""
    shape: Shape = field(default_factory=Shape)
    """SHAPES: host resources asked (:mod:`suanli.domain.shapes`); empty: the devices' proportional share."""
    allow_unenforced: bool = False
    """SLICES: accept a slice no mechanism holds to its share (docs/slices.md); else such a slice is refused."""
    migratable: bool = False
    """DEFRAG: the lease accepts moves with notice, for a discount (docs/defrag.md)."""

    @property
    def milli(self) -> int:
        return self.share_pct * 10


def _int_field(raw: Mapping[str, Any], key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    value = raw.get(key)
    rng = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    if value is None:
        if default < minimum:  # no usable default: the field must be sent (not "got 0" for a missing one)
            raise ValidationError(f"{key} is required: an integer {rng}", field=key, minimum=minimum, maximum=maximum)
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{key} must be an integer, got {value!r}", field=key)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValidationError(f"{key} must be {rng}, got {value}", field=key, minimum=minimum, maximum=maximum)
    return value


def _names(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    v = raw.get(key) or ()
    if isinstance(v, str):
        v = [s for s in v.split(",") if s.strip()]
    if not isinstance(v, list | tuple) or not all(isinstance(s, str) for s in v):
        raise ValidationError(f"{key} must be a list of names", field=key)
    return tuple(s.strip() for s in v)


def parse_order(raw: Mapping[str, Any], *, now: datetime) -> OrderSpec:
    """Validate an order document; every message says what was wrong and what is allowed."""
    try:
        form = ProductForm(str(raw.get("form", "")).lower())
        if form not in ORDERABLE_FORMS:
            raise ValueError(form)
    except ValueError:
        allowed = ", ".join(f.value for f in ORDERABLE_FORMS)
        raise ValidationError(f"form {raw.get('form')!r} is not a product form; allowed: {allowed} (a reservation "
                              "is made by a term or take-or-pay plan)", field="form") from None
    known = {"form", "quantity", "models", "sites", "regions", "vendors", "share_pct", "memory_mib", "p",
             "min_memory_gib", "topology", "start", "end", "hours", "max_rtt_ms"}
    known |= {"wait_until", "priority"}  # QUEUE (docs/queue.md)
    known |= {"slice_class"}  # OVERSUB (docs/slices.md "Oversubscription")
    known |= set(SHAPE_FIELDS)  # SHAPES (docs/orders.md "Custom shapes")
    known |= {"allow_unenforced"}  # SLICES (docs/slices.md "Ordering")
    known |= {"migratable"}  # DEFRAG (docs/defrag.md)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError(f"unknown order fields {unknown}; allowed: {sorted(known)}", unknown=unknown)
    start, end = raw.get("start"), raw.get("end")
    if start is not None and not isinstance(start, datetime):
        raise ValidationError("start must be an ISO-8601 date-time", field="start")
    if end is not None and not isinstance(end, datetime):
        raise ValidationError("end must be an ISO-8601 date-time", field="end")
    if start is not None and start < now - FUTURE_SLACK:
        raise ValidationError(
            f"start {start.isoformat()} is in the past; a reservation must start now or later (now: {now.isoformat()})",
            field="start",
        )
    if start is not None and start > now + MAX_AHEAD:
        raise ValidationError(f"start {start.isoformat()} is too far ahead; a reservation starts at most "
                              f"{MAX_AHEAD.days} days from now ({(now + MAX_AHEAD).isoformat()})", field="start")
    if start is not None and raw.get("wait_until") is not None:
        raise ValidationError("an order that may wait (wait_until) starts when it is granted; give hours or end, "
                              "not start", field="wait_until")
    eff_start = start or now
    hours = raw.get("hours")
    if hours is not None:
        if end is not None:
            raise ValidationError("give either end or hours, not both", field="hours")
        if isinstance(hours, bool) or not isinstance(hours, int | float | str):
            raise ValidationError(f"hours must be a positive number, got {hours!r}", field="hours")
        try:
            h = Decimal(str(hours))
        except InvalidOperation:
            raise ValidationError(f"hours must be a positive number, got {hours!r}", field="hours") from None
        if not h.is_finite() or h <= 0:
            raise ValidationError(f"hours must be > 0, got {hours!r}", field="hours")
        if h * 3600 > Decimal(MAX_TERM.total_seconds()):
            raise ValidationError(f"hours {h} is longer than the longest term, {MAX_TERM.days * 24} hours "
                                  f"({MAX_TERM.days} days)", field="hours")
        end = eff_start + timedelta(seconds=int(h * 3600))
    if end is not None:
        if end <= eff_start:
            raise ValidationError(
                f"end {end.isoformat()} must be after start {eff_start.isoformat()}", field="end"
            )
        if end - eff_start > MAX_TERM:
            raise ValidationError(f"term longer than {MAX_TERM.days} days is not allowed", field="end")
    try:
        topology = Topology(str(raw.get("topology") or "fabric").lower())
    except ValueError:
        allowed = ", ".join(t.value for t in Topology)
        raise ValidationError(f"topology {raw.get('topology')!r} not allowed; allowed: {allowed}", field="topology") from None
    p = Decimal(0)
    share = memory = 0
    quantity = 1
    if form is ProductForm.SLICE:
        share = _int_field(raw, "share_pct", 0, minimum=1, maximum=100)
        memory = _int_field(raw, "memory_mib", 0, minimum=1)
        if raw.get("quantity", 1) not in (1, None):
            raise ValidationError("a slice is a fraction of one device; quantity must be 1", field="quantity")
    elif form is ProductForm.FLOPS:
        raw_p = raw.get("p")
        if raw_p is None or isinstance(raw_p, bool):
            raise ValidationError("a flops order needs p: the compute in P (PFLOPS dense FP16), > 0", field="p")
        try:
            p = Decimal(str(raw_p))
        except InvalidOperation:
            raise ValidationError(f"p must be a number of PFLOPS, got {raw_p!r}", field="p") from None
        if not p.is_finite() or p <= 0 or p > 100000:
            raise ValidationError(f"p must be > 0 and <= 100000, got {raw_p!r}", field="p")
    elif form is ProductForm.CPU:
        if raw.get("quantity", 1) not in (1, None):
            raise ValidationError("a cpu order is one instance; quantity must be 1", field="quantity")
    else:
        quantity = _int_field(raw, "quantity", 1, minimum=1, maximum=4096)
    return OrderSpec(
        form=form, quantity=quantity, models=_names(raw, "models"), sites=_names(raw, "sites"),
        regions=_names(raw, "regions"), vendors=tuple(v.lower() for v in _names(raw, "vendors")),
        share_pct=share, memory_mib=memory, p=p,
        min_memory_gib=_int_field(raw, "min_memory_gib", 0, minimum=0), topology=topology,
        start=start, end=end, max_rtt_ms=_max_rtt(raw.get("max_rtt_ms")),
        slice_class=parse_slice_class(raw.get("slice_class"), form is ProductForm.SLICE),
        wait_until=queueing.parse_wait_until(raw.get("wait_until"), now=now),
        priority=queueing.parse_priority(raw.get("priority")).value,
        shape=parse_shape(raw, form.value),
        allow_unenforced=parse_allow_unenforced(raw.get("allow_unenforced"), form is ProductForm.SLICE),
        migratable=parse_migratable(raw.get("migratable"), form.value),
    )


MAX_RTT_MS = Decimal(10000)
"""The largest ``max_rtt_ms`` an order may ask for (10 s: anything slower is not "near")."""


def _max_rtt(value: Any) -> Decimal | None:
    if value is None:
        return None
    what = f"max_rtt_ms must be a number of milliseconds, > 0 and <= {MAX_RTT_MS}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError(what, field="max_rtt_ms", maximum=str(MAX_RTT_MS))
    try:
        ms = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(what, field="max_rtt_ms", maximum=str(MAX_RTT_MS)) from None
    if not ms.is_finite() or ms <= 0 or ms > MAX_RTT_MS:
        raise ValidationError(what, field="max_rtt_ms", maximum=str(MAX_RTT_MS))
    return ms


def order_to_dict(spec: OrderSpec, window: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """JSON-able form for storage. ``window``: the request's ``start``/``end``/``hours`` as sent,
    kept under ``"window"`` so that a retry is recognised as the same order even when ``hours``
    yields a different end; :func:`placement_spec` strips it again."""
    d: dict[str, Any] = {"form": spec.form.value}
    if spec.form in (ProductForm.SERVER, ProductForm.GPU, ProductForm.CLUSTER):
        d["quantity"] = spec.quantity
    if spec.form is ProductForm.SLICE:
        d |= {"share_pct": spec.share_pct, "memory_mib": spec.memory_mib}
    if spec.form is ProductForm.FLOPS:
        d |= {"p": str(spec.p), "min_memory_gib": spec.min_memory_gib, "topology": spec.topology.value}
    for key in ("models", "sites", "regions", "vendors"):
        if getattr(spec, key):
            d[key] = list(getattr(spec, key))
    if spec.max_rtt_ms is not None:
        d["max_rtt_ms"] = str(spec.max_rtt_ms)
    if spec.slice_class is SliceClass.BURSTABLE:  # OVERSUB
        d["slice_class"] = spec.slice_class.value
    d |= spec.shape.as_dict()  # SHAPES
    if spec.allow_unenforced:  # SLICES
        d["allow_unenforced"] = True
    if spec.migratable:  # DEFRAG
        d["migratable"] = True
    if window is not None:
        sent = {k: window[k] for k in ("start", "end", "hours") if window.get(k) is not None}
        d["window"] = {k: v.isoformat() if isinstance(v, datetime) else str(v) for k, v in sent.items()}
    return d


def placement_spec(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored order without its window: what :func:`parse_order` places again (e.g. after a failure)."""
    return {k: v for k, v in stored.items() if k != "window"}


@dataclass(frozen=True)
class Allocation:
    """One device (or fraction) a lease holds, with where it is."""

    device_id: int
    node: str
    slot: int
    model: str
    site: str
    supplier: str
    fabric: str
    milli: int
    memory_mib: int
    start: datetime
    end: datetime | None
    drawn_from: str | None = None
    """The reservation (a term plan's lease) this allocation draws on; None: held on its own."""
    sold_milli: int | None = None
    """A burstable slice's sold share (``milli`` is then its capacity charge, :mod:`suanli.domain.oversub`)."""
    discount_pct: Decimal | None = None
    """A burstable slice's discount, % off the list price."""
    migratable_discount_pct: Decimal | None = None
    """DEFRAG: a migratable lease's discount, % off the list price (fixed at its first grant)."""

    @property
    def share(self) -> Decimal:
        """Billed share of the device: milli ÷ 1000 (1 for a whole device); a burstable slice's sold
        share less its discount (:func:`suanli.domain.oversub.billed_share`)."""
        if self.sold_milli is not None:
            share = billed_share(self.sold_milli, self.discount_pct or Decimal(0))
        else:
            share = Decimal(self.milli) / Decimal(1000)
        if self.migratable_discount_pct:  # DEFRAG: docs/defrag.md
            share = discounted(share, self.migratable_discount_pct)
        return share

    @property
    def limit_milli(self) -> int:
        """The compute share the job may use: the sold share (a burstable slice bursts up to it)."""
        return self.sold_milli if self.sold_milli is not None else self.milli


@dataclass(frozen=True)
class Lease:
    id: str
    order_id: str
    tenant_id: str
    form: ProductForm
    state: LeaseState
    start: datetime
    end: datetime | None
    activated_at: datetime | None
    ended_at: datetime | None
    reason: str
    commission_rate: Decimal
    placement: str
    created_at: datetime
    allocations: tuple[Allocation, ...] = ()

    def last_allocations(self) -> tuple[Allocation, ...]:
        """The devices it holds now, or the ones it gave up last (interrupted, suspended, ended)."""
        if any(a.end is None for a in self.allocations):
            return tuple(a for a in self.allocations if a.end is None)
        last = max((a.end for a in self.allocations if a.end is not None), default=None)
        return tuple(a for a in self.allocations if a.end == last)

    def billable_window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """[activated, ended-or-end-or-now): the seconds a tenant pays for (never the future)."""
        if self.activated_at is None:
            return None
        stop = self.ended_at or now
        if self.end is not None:
            stop = min(stop, self.end)
        stop = min(stop, now)
        return (self.activated_at, stop) if stop > self.activated_at else None


START_REASON = "reservation started"
END_REASON = "term over"


@dataclass(frozen=True)
class Move:
    """A move that time makes: a reservation starting at its start, a term ending at its end."""

    at: datetime
    frm: LeaseState
    to: LeaseState
    reason: str


def due_moves(lease: Lease, now: datetime) -> list[Move]:
    """The moves of ``lease`` that are due at ``now`` and not stored yet, in order: ``scheduled`` →
    ``active`` at its start once the start has come; ``active`` or ``suspended`` → ``ended`` at its
    end once a fixed term is over (a reservation whose whole window has passed makes both). Each move
    happens at its own instant (the start, the end), never at ``now``."""
    moves: list[Move] = []
    state = lease.state
    if state is LeaseState.SCHEDULED and lease.start <= now:
        moves.append(Move(lease.start, state, LeaseState.ACTIVE, START_REASON))
        state = LeaseState.ACTIVE
    if state in (LeaseState.ACTIVE, LeaseState.SUSPENDED) and lease.end is not None and lease.end <= now:
        moves.append(Move(lease.end, state, LeaseState.ENDED, END_REASON))
    return moves


def _closed_at(a: Allocation, at: datetime) -> Allocation:
    """An allocation given up at ``at``, as the store closes it: held past ``at`` ends there; one not
    started by then is kept zero-length (``end = start``)."""
    if a.start >= at:
        return a if a.end == a.start else replace(a, end=a.start)
    return a if a.end is not None and a.end <= at else replace(a, end=at)


def ended(lease: Lease, at: datetime, reason: str) -> Lease:
    """The lease as the store holds it once ended at ``at`` for ``reason`` (what
    :func:`suanli.service.leases.transition` writes): ``ended_at`` = ``at`` and its allocations given
    up at ``at`` (:func:`_closed_at`). Lets the end answer without reading the lease back."""
    return replace(lease, state=LeaseState.ENDED, ended_at=at, reason=reason,
                   allocations=tuple(_closed_at(a, at) for a in lease.allocations))


def as_of(lease: Lease, now: datetime) -> Lease:
    """The lease as it is at ``now``: its stored state with the :func:`due_moves` applied, exactly
    as the background pass will store them (``activated_at`` = start, ``ended_at`` = end, the
    allocations closed at the end, the reason of the last move). Reads show this, so a read never
    needs to write; a write that acts on a lease stores the moves first."""
    moves = due_moves(lease, now)
    if not moves:
        return lease
    last = moves[-1]
    activated = lease.activated_at
    if activated is None and any(m.to is LeaseState.ACTIVE for m in moves):
        activated = moves[0].at
    if last.to is LeaseState.ENDED:
        return replace(lease, state=last.to, activated_at=activated, ended_at=last.at, reason=last.reason,
                       allocations=tuple(_closed_at(a, last.at) for a in lease.allocations))
    return replace(lease, state=last.to, activated_at=activated, reason=last.reason)

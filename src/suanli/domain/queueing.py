"""The order queue: who waits, in which order, and when a shape can start (docs/queue.md).

An order that does not fit now may wait when it carries ``wait_until`` (a deadline at most
:data:`MAX_WAIT` ahead). Waiting orders are served by these rules, in this order:

1. **Priority class** (:class:`Priority`): ``high`` before ``normal`` before ``low``. Any tenant
   may order ``normal`` or ``low``; ``high`` only a tenant the operator allowed
   (:func:`check_priority`).
2. **Weighted fair share** (dominant share over weight, as in Kueue's fair sharing or KAI's DRF,
   reduced to one resource: device capacity): among orders of one class, the tenant whose
   ``used milli ÷ weight`` is lowest is served first. ``used`` counts the device capacity the
   tenant holds now, plus what this pass granted it already, so over a run two tenants with
   weights 2:1 receive capacity 2:1 (:func:`service_order`).
3. **Arrival**: first queued, first served; then the order id (a total order: deterministic).

**Backfill (EASY).** The first order of that sequence that does not fit now is the *head*; its
earliest start ``T`` (from the reservation calendar) is held for it. A later order may start now
only if the head still fits at ``T`` with that order's hold added (the service checks it with the
same placement engine); an order that ends by ``T`` never delays it.

**The calendar.** :func:`candidate_starts` lists the instants at which capacity can change: now
and each known end of a hold (live leases' ends, spot leases' preemption instants) within the
horizon. :func:`earliest_start` tries them in order with a ``fits`` test; :func:`free_over`
subtracts holds overlapping a window from per-device free capacity (the queued orders ahead of a
shape are such holds). All pure: tested with hand-built calendars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from suanli.errors import ValidationError

MAX_WAIT = timedelta(days=30)
"""The longest an order may wait in the queue (``wait_until`` at most this far from now)."""
HORIZON = timedelta(days=30)
"""How far ahead "when?" looks (beyond: "not within the horizon")."""
MAX_CANDIDATES = 256
"""Most candidate start instants :func:`earliest_start` tries (the calendar's first ones)."""
DEADLINE_REASON = "deadline passed"
MIN_WEIGHT = Decimal("0.01")
MAX_WEIGHT = Decimal(1000)


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 is served first."""
        return {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}[self]


def parse_priority(value: Any) -> Priority:
    if value is None:
        return Priority.NORMAL
    try:
        return Priority(str(value).lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Priority)
        raise ValidationError(f"priority {value!r} is not a priority class; allowed: {allowed}",
                              field="priority", allowed=[p.value for p in Priority]) from None


def parse_wait_until(value: Any, *, now: datetime) -> datetime | None:
    """``wait_until``: a date-time in the future, at most :data:`MAX_WAIT` ahead; None: no waiting."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError("wait_until must be an ISO-8601 date-time", field="wait_until")
    if value <= now:
        raise ValidationError(f"wait_until {value.isoformat()} is not in the future (now: {now.isoformat()}); "
                              f"an order may wait until a later instant, at most {MAX_WAIT.days} days ahead",
                              field="wait_until")
    if value > now + MAX_WAIT:
        raise ValidationError(f"wait_until {value.isoformat()} is too far ahead; an order waits at most "
                              f"{MAX_WAIT.days} days ({(now + MAX_WAIT).isoformat()})", field="wait_until",
                              maximum=(now + MAX_WAIT).isoformat())
    return value


def check_priority(priority: Priority, *, allowed_high: bool, tenant: str) -> None:
    """``high`` is for tenants the operator allowed (``suanli queue weight --tenant T --allow-high``)."""
    if priority is Priority.HIGH and not allowed_high:
        raise ValidationError(f"priority high is not allowed for tenant {tenant!r}; allowed: normal, low (the "
                              "operator allows high per tenant: `suanli queue weight --tenant NAME --allow-high`)",
                              field="priority", allowed=["normal", "low"])


def parse_weight(value: Any) -> Decimal:
    what = f"weight must be a number between {MIN_WEIGHT} and {MAX_WEIGHT}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError(what, field="weight")
    try:
        w = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValidationError(what, field="weight") from None
    if not w.is_finite() or w < MIN_WEIGHT or w > MAX_WEIGHT:
        raise ValidationError(what, field="weight", minimum=str(MIN_WEIGHT), maximum=str(MAX_WEIGHT))
    return w


@dataclass(frozen=True)
class QueuedOrder:
    """An order waiting in the queue (what the store's ``queued_orders`` returns)."""

    order_id: str
    tenant_id: str
    account_id: str
    """The account that placed it (the organisation's own or a member): it is placed as that account."""
    form: str
    spec: Mapping[str, Any]
    """The order document as stored (``order_to_dict``)."""
    priority: Priority
    wait_until: datetime
    queued_at: datetime
    idempotency_key: str
    hours: Decimal | None = None
    """The term asked for (``hours`` or end - start as sent); None: open-ended."""

    @property
    def duration(self) -> timedelta | None:
        return None if self.hours is None else timedelta(seconds=int(self.hours * 3600))


def service_order(queued: Sequence[QueuedOrder], used: Mapping[str, int], weights: Mapping[str, Decimal],
                  ) -> list[QueuedOrder]:
    """The order of service of a snapshot of the queue (one round): class, then fair share
    (``used ÷ weight``, lowest first; weight 1 where the operator set none), then arrival. The
    service re-ranks after every grant (:func:`next_up`), which is what makes 2:1 weights give 2:1."""
    def key(q: QueuedOrder) -> tuple[int, Decimal, datetime, str]:
        share = Decimal(used.get(q.tenant_id, 0)) / weights.get(q.tenant_id, Decimal(1))
        return (q.priority.rank, share, q.queued_at, q.order_id)
    return sorted(queued, key=key)


def next_up(queued: Sequence[QueuedOrder], used: Mapping[str, int], weights: Mapping[str, Decimal]
            ) -> QueuedOrder | None:
    order = service_order(queued, used, weights)
    return order[0] if order else None


# ------------------------------------------------------------------------------------------ calendar
@dataclass(frozen=True)
class Hold:
    """Capacity held on one device over [start, end) (end None: open-ended)."""

    device: int
    milli: int
    start: datetime
    end: datetime | None


def overlaps(h: Hold, start: datetime, end: datetime | None) -> bool:
    return (h.end is None or h.end > start) and (end is None or h.start < end)


def free_over(capacity: Mapping[int, int], holds: Iterable[Hold], start: datetime, end: datetime | None
              ) -> dict[int, int]:
    """Per-device capacity free over the whole window [start, end): capacity minus every hold that
    overlaps the window (conservative, as the placement snapshot is)."""
    free = dict(capacity)
    for h in holds:
        if h.device in free and overlaps(h, start, end):
            free[h.device] = max(0, free[h.device] - h.milli)
    return free


def candidate_starts(now: datetime, ends: Iterable[datetime | None], horizon: timedelta = HORIZON) -> list[datetime]:
    """Now, then every distinct known end within the horizon, ascending (at most :data:`MAX_CANDIDATES`)."""
    later = sorted({e for e in ends if e is not None and now < e <= now + horizon})
    return [now, *later][:MAX_CANDIDATES]


def earliest_start(candidates: Sequence[datetime], fits: Callable[[datetime], bool]) -> datetime | None:
    """The first candidate instant at which ``fits`` holds; None: none within the horizon."""
    for t in candidates:
        if fits(t):
            return t
    return None


@dataclass(frozen=True)
class When:
    """The answer to "when can this shape start?"."""

    start: datetime | None
    """None: not within the horizon."""
    now: bool
    horizon_end: datetime
    ahead: int
    """Queued orders served before this shape that the answer accounts for."""

    def text(self) -> str:
        if self.now:
            return "now"
        if self.start is None:
            return f"not within the horizon (until {self.horizon_end.isoformat()})"
        return self.start.isoformat()

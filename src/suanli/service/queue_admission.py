"""The placement loop's hook into the queue (docs/queue.md): an order refused for lack of capacity
that carries ``wait_until`` is recorded as ``queued`` instead of rejected (no lease, nothing held);
the queue (:mod:`suanli.service.order_queue`) places it later through the same loop code.

Only ``no_capacity`` waits: an order that can never fit was refused with a 422 before it reached the
loop, and one refused as ``not_allowed`` (its filters match nothing priced) would wait for nothing.

**The head's start is protected from live orders too** (:func:`behind_head`): the last queue pass
leaves its head (the first waiting order that did not fit) and its earliest start ``T`` with the
platform; a new order of the same or a lower class whose grant would make the head miss ``T`` is
treated as not fitting now (``no_capacity``: rejected as today, or queued when it carries
``wait_until``). Per process: the one that ran the last pass (the leader's, or the one that ended a lease).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from suanli.domain.leases import OrderSpec, RejectReason
from suanli.domain.queueing import Priority
from suanli.service import when
from suanli.service.placement import Plan, Rejection
from suanli.service.platform import Platform
from suanli.store import queue as queue_store
from suanli.store.leases import OrderRecord

if TYPE_CHECKING:
    from suanli.service.order_loop import Ticket


def queued_reason(rej: Rejection) -> str:
    return f"queued: {rej.reason.value}: {rej.message}"


def wait_in_queue(p: Platform, s: Session, t: Ticket, order_id: str, rej: Rejection) -> OrderRecord | None:
    """The order as queued (written now, or already waiting: nothing written), or None: reject it."""
    spec = t.spec
    if spec.wait_until is None or rej.reason is not RejectReason.NO_CAPACITY:
        return None
    reason = queued_reason(rej)
    if t.queued is None:
        queue_store.insert_queued(
            s, order_id=order_id, tenant_id=t.actor.tenant_id, account_id=t.actor.account_id, key=t.key,
            form=spec.form.value, spec=t.stored, start=t.arrival, end=spec.end, reason=reason, arrival=t.arrival,
            ordered_by=t.actor.account_id, priority=spec.priority, wait_until=spec.wait_until)
    return OrderRecord(order_id, t.actor.tenant_id, spec.form.value, t.stored, t.arrival, spec.end, "queued",
                       reason, t.arrival, None, t.actor.name)


@dataclass(frozen=True)
class Head:
    """The queue's head as the last pass left it: it starts at ``start`` (its earliest, from the calendar)."""

    order_id: str
    spec: OrderSpec
    start: datetime
    term: timedelta | None
    rank: int


class HeadCache:
    def __init__(self, _p: Platform) -> None:
        self.head: Head | None = None


def set_head(p: Platform, head: Head | None) -> None:
    p.attached(HeadCache).head = head


def current_head(p: Platform) -> Head | None:
    return p.attached(HeadCache).head


def behind_head(p: Platform, s: Session, t: Ticket, out: Plan | Rejection, start: datetime) -> Rejection | None:
    """A refusal (``no_capacity``) when granting ``out`` would make the queue's head miss its start; None: go on.
    The head must still fit at its start without this order (else the cache is stale: no refusal)."""
    head = p.attached(HeadCache).head
    if (head is None or not isinstance(out, Plan) or t.queued is not None
            or Priority(t.spec.priority).rank < head.rank or head.start <= p.clock.now()):
        return None
    pre = when.preempted_holds(s, head.start)
    if when._fits_at(p, s, head.spec, head.start, head.term, head.order_id, (), pre) is None:
        return None
    holds = when.holds_of(out, start, when.term(t.spec, start))
    if when._fits_at(p, s, head.spec, head.start, head.term, head.order_id, holds, pre) is not None:
        return None
    return Rejection(RejectReason.NO_CAPACITY,
                     f"it would delay the queued order {head.order_id}, which starts at {head.start.isoformat()} "
                     "(docs/queue.md); give wait_until to wait in the queue, or ask `suanli order when`")

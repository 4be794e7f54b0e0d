"""The placement loop's hook into the queue (docs/queue.md): an order refused for lack of capacity
that carries ``wait_until`` is recorded as ``queued`` instead of rejected (no lease, nothing held);
the queue (:mod:`suanli.service.order_queue`) places it later through the same loop code.

Only ``no_capacity`` waits: an order that can never fit was refused with a 422 before it reached the
loop, and one refused as ``not_allowed`` (its filters match nothing priced) would wait for nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from suanli.domain.leases import RejectReason
from suanli.service.placement import Rejection
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

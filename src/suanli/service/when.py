""""When could this order start?" from the reservation calendar (docs/queue.md "When?").

The calendar is what the database knows about the future: live leases' allocations with a fixed end,
reservations (scheduled leases, counted over their window by the snapshot), spot leases' preemption
instants (:mod:`suanli.store.queue`), and the holds of the queued orders served before the shape.
The candidate instants are now and every known end within the horizon
(:func:`suanli.domain.queueing.candidate_starts`); at each, the fleet free over the whole term
[t, t + hours) is read with the placement snapshot and the order is placed on it with the SAME
engine as a live order (:func:`suanli.service.placement.plan`, nothing written). The first instant
it fits is the answer. An open-ended order needs its capacity free from t on, forever.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import OrderSpec, parse_order
from suanli.domain.queueing import (
    HORIZON,
    Hold,
    Priority,
    QueuedOrder,
    When,
    candidate_starts,
    earliest_start,
    overlaps,
    parse_priority,
)
from suanli.errors import ValidationError
from suanli.service.placement import Plan, Snapshot, check_order, plan, snapshot
from suanli.service.platform import Platform
from suanli.store import queue as queue_store

MAX_AHEAD_ORDERS = 50
"""Queued orders ahead of a shape that "when?" plays out (the rest: not counted, said in the answer)."""


def term(spec: OrderSpec, now: datetime) -> timedelta | None:
    if spec.end is None:
        return None
    return spec.end - max(spec.start or now, now)


def adjust(snap: Snapshot, add: Iterable[Hold], sub: Iterable[Hold]) -> None:
    """Give back ``add`` (holds that will be gone) and take ``sub`` (holds to come) on the snapshot's
    free capacity; the node's proportional CPU follows."""
    where = {d.id: k for k, d in snap.slot_device.items()}
    st = snap.state
    free = st.dev_free_milli.copy()
    cpu = st.cpu_free_milli.copy()
    host: dict[str, Any] = {}  # host resources (SHAPES): mem, NIC, disk follow the devices' share too
    caps = snap.host.caps if snap.host is not None else None
    if caps is not None:
        host = {"mem_free_mib": (st.mem_free_mib.copy(), [c.ram_mib for c in caps])}
        for name, attr in (("nic_free_mbps", "nic_mbps"), ("disk_free_gib", "disk_gib")):
            arr = getattr(st, name)
            if arr is not None:
                host[name] = (arr.copy(), [getattr(c, attr) for c in caps])
    changed = False
    for sign, holds in ((1, add), (-1, sub)):
        for h in holds:
            if h.device not in where:
                continue
            i, j = where[h.device]
            before = int(free[i, j])
            after = max(0, min(1000, before + sign * h.milli))
            if after == before:
                continue
            free[i, j] = after
            n = max(int(st.n_devices[i]), 1)
            share = int(st.cpu_total_milli[i]) * (after - before) // (n * 1000)
            cpu[i] = max(0, min(int(st.cpu_total_milli[i]), int(cpu[i]) + share))
            for arr, totals in host.values():
                arr[i] = max(0, min(totals[i], int(arr[i]) + totals[i] * (after - before) // (n * 1000)))
            changed = True
    if changed:
        snap.state = dataclasses.replace(st, dev_free_milli=free, cpu_free_milli=cpu,
                                         **{k: v[0] for k, v in host.items()})


def _fits_at(p: Platform, s: Session, spec: OrderSpec, t: datetime, dur: timedelta | None, seed: str,
             ahead: Sequence[Hold], preempted: Sequence[tuple[datetime, Hold]]) -> Plan | None:
    end = None if dur is None else t + dur
    snap = snapshot(p, s, t, end)
    adjust(snap, [h for at, h in preempted if at <= t], [h for h in ahead if overlaps(h, t, end)])
    out = plan(p, snap, spec, seed=seed)
    return out if isinstance(out, Plan) else None


def preempted_holds(s: Session, now: datetime) -> list[tuple[datetime, Hold]]:
    """Holds of spot leases under notice, with the instant they end."""
    pending = queue_store.preemptions(s)
    out: list[tuple[datetime, Hold]] = []
    for pr in pending:
        out += [(pr.preempt_at, h) for h in queue_store.lease_holds(s, [pr.lease_id], now)]
    return out


def earliest(p: Platform, s: Session, spec: OrderSpec, now: datetime, seed: str, ahead: Sequence[Hold] = (),
             ) -> tuple[datetime | None, Plan | None]:
    """The earliest instant the order fits (and its plan there), or (None, None) within the horizon."""
    dur = term(spec, now)
    pre = preempted_holds(s, now)
    cands = candidate_starts(now, [*queue_store.live_ends(s, now), *(h.end for h in ahead), *(a for a, _ in pre)],
                             HORIZON)
    found: dict[datetime, Plan] = {}

    def fits(t: datetime) -> bool:
        out = _fits_at(p, s, spec, t, dur, seed, ahead, pre)
        if out is not None:
            found[t] = out
        return out is not None

    at = earliest_start(cands, fits)
    return at, (found[at] if at is not None else None)


def holds_of(out: Plan, start: datetime, dur: timedelta | None) -> list[Hold]:
    return [Hold(dev, milli, start, None if dur is None else start + dur) for dev, milli, _mem in out.grants]


def ahead_holds(p: Platform, s: Session, ahead: Sequence[QueuedOrder], now: datetime) -> list[Hold]:
    """Play the queued orders ahead out on the calendar, in their order: each at its earliest start,
    holding what it would get there."""
    holds: list[Hold] = []
    for q in ahead[:MAX_AHEAD_ORDERS]:
        spec = spec_of(q, now)
        at, out = earliest(p, s, spec, now, q.order_id, holds)
        if at is not None and out is not None:
            holds += holds_of(out, at, term(spec, now))
    return holds


def spec_of(q: QueuedOrder, now: datetime) -> OrderSpec:
    """The queued order as it would be placed at ``now`` (its term counted from then)."""
    return parse_order(raw_of(q), now=now)


def raw_of(q: QueuedOrder) -> dict[str, Any]:
    raw = {k: v for k, v in q.spec.items() if k != "window"}
    window = q.spec.get("window") or {}
    if window.get("hours") is not None:
        raw["hours"] = window["hours"]
    if window.get("end") is not None:
        raw["end"] = datetime.fromisoformat(window["end"])
    return raw


def when(p: Platform, actor: Principal, raw: dict[str, Any]) -> When:
    """``POST /v1/orders/when``: the earliest start of this order (same body as an order) from the
    calendar, counting the queued orders of its class or higher ahead of it; nothing is written."""
    authorize(actor, Action.PLACE_ORDER)
    now = p.clock.now()
    body = {k: v for k, v in raw.items() if k != "wait_until"}
    if body.get("start") is not None:
        raise ValidationError("when? answers for an order that starts as soon as it can: leave out start (a "
                              "reservation's start is yours to choose; its quote says if it fits)", field="start")
    spec = parse_order(body, now=now)
    prio = parse_priority(body.get("priority"))
    with p.read() as s:
        check_order(snapshot(p, s, now, None), spec)  # never fits: the 422 an order would get
        ahead = [q for q in queue_store.queued_orders(s) if q.priority.rank <= prio.rank]
        holds = ahead_holds(p, s, ahead, now)
        at, _out = earliest(p, s, spec, now, "when", holds)
    return When(start=at, now=at == now, horizon_end=now + HORIZON, ahead=min(len(ahead), MAX_AHEAD_ORDERS))


def priority_of(raw: dict[str, Any]) -> Priority:
    return parse_priority(raw.get("priority"))

"""Lease time as usage: the platform meters its own leases through the same usage records.

A lease is billable while it is ``active``: its active intervals come from its state changes
(activation, interruption, re-activation, end), never past ``now`` or the lease's end. Each
interval is cut at every hour boundary and at any extra ``cuts`` (price changes), and each piece
becomes one ``device_seconds`` record per (model, site, supplier, node) of the lease's devices::

    quantity = seconds x sum of the devices' shares on that node      (device-seconds)

Record ids are deterministic (``lease:model:site:supplier:node:start``, source ``suanli/leases``;
an id longer than the store's 200 characters keeps its lease and start and hashes the middle), so
metering the same closed hours twice yields the same records: the store ingests them once.

Records metered before the node was part of the key (``lease:model:site:supplier:start``, no
node) still count: :func:`legacy_key` names the piece such a record covers, and the billing
service does not meter a piece again when a record of the old form already covers it.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from suanli.domain.fleet import Owners
from suanli.domain.leases import Lease
from suanli.ledger.meters import Meter, UsageRecord, payload_hash

LEASE_SOURCE = "suanli/leases"
HOUR = timedelta(hours=1)
MAX_ID = 200


def record_id(lease: str, model: str, site: str, supplier: str, node: str, start: datetime) -> str:
    """The deterministic id of one lease-time record (at most :data:`MAX_ID` characters)."""
    rid = f"{lease}:{model}:{site}:{supplier}:{node}:{start.isoformat()}"
    if len(rid) <= MAX_ID:
        return rid
    digest = hashlib.sha256(f"{model}:{site}:{supplier}:{node}".encode()).hexdigest()[:32]
    return f"{lease}:{digest}:{start.isoformat()}"


def legacy_key(r: UsageRecord) -> tuple[str, datetime, str, str, str]:
    """The piece a lease-time record covers regardless of node: (lease, start, model, site, supplier)."""
    return (r.lease, r.time, r.model, r.site, r.supplier)


def active_intervals(lease: Lease, events: Iterable[tuple[datetime, str, str]], now: datetime
                     ) -> list[tuple[datetime, datetime]]:
    """[start, end) intervals in which the lease was active, from its (at, from, to) state events."""
    cap = now if lease.end is None else min(now, lease.end)
    out: list[tuple[datetime, datetime]] = []
    opened: datetime | None = None
    for at, frm, to in sorted(events, key=lambda e: e[0]):
        if to == "active" and frm != "active" and opened is None:
            opened = at
        elif frm == "active" and to != "active" and opened is not None:
            out.append((opened, min(at, cap)))
            opened = None
    if opened is not None:
        out.append((opened, cap))
    return [(a, b) for a, b in out if b > a]


def _pieces(a: datetime, b: datetime, cuts: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    points = {a, b}
    t = a.replace(minute=0, second=0, microsecond=0) + HOUR
    while t < b:
        points.add(t)
        t += HOUR
    points.update(c for c in cuts if a < c < b)
    ordered = sorted(points)
    return list(itertools.pairwise(ordered))


def lease_records(lease: Lease, intervals: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime,
                  cuts: Sequence[datetime] = (), owners: Owners | None = None) -> list[UsageRecord]:
    """Device-second records of a lease inside [start, end). Each allocation counts only inside
    its own window (a lease re-placed after a failure or resumed holds several in turn). With
    ``owners`` (the nodes' ownership history), pieces are also cut where a node changes owner and
    each is attributed to the supplier that owned its node then."""
    bounds = [x for al in lease.allocations for x in (al.start, al.end) if x is not None]
    if owners is not None:
        bounds += [t for node in {al.node for al in lease.allocations} for t in owners.changes(node)]
    out: list[UsageRecord] = []
    for a0, b0 in intervals:
        a, b = max(a0, start), min(b0, end)
        if b <= a:
            continue
        for x, y in _pieces(a, b, [*cuts, *bounds]):
            secs = int((y - x).total_seconds())
            if secs <= 0:
                continue
            groups: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
            for al in lease.allocations:
                if al.start <= x and (al.end is None or al.end >= y):
                    owner = owners.at(al.node, x) if owners is not None else None
                    groups[(al.model, al.site, owner or al.supplier, al.node)] += al.share
            for (model, site, supplier, node), share in sorted(groups.items()):
                data = {"quantity": str(secs), "share": format(share, "f"), "model": model, "site": site,
                        "supplier": supplier, "node": node, "lease": lease.id, "order": lease.order_id}
                out.append(UsageRecord(
                    source=LEASE_SOURCE, id=record_id(lease.id, model, site, supplier, node, x),
                    meter=Meter.DEVICE_SECONDS, subject=lease.tenant_id, time=x, quantity=secs * share, model=model,
                    site=site, supplier=supplier, node=node, lease=lease.id, order=lease.order_id,
                    payload_hash=payload_hash(Meter.DEVICE_SECONDS, lease.tenant_id, x, data)))
    return out

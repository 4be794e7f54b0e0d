"""Usage ingestion: validate CloudEvents-shaped events and store each (source, id) once.

A batch is all or nothing: one invalid event (unknown meter or subject, negative quantity, a
time too far in the future, an id reused with a different payload) rejects the whole batch
with a 4xx naming the event and the problem, and nothing is written. Valid resends of events
already stored are counted as duplicates and skipped by the database's unique key.

The billing period of an event is its own month, unless that month's invoice for the tenant
is already issued: then it bills on the next open month, as an adjustment line.

Attribution happens here, once (:func:`attribute_records`): each event's node (named, or its
lease's node at that instant) and the supplier that owned the node at the event's time are stored
with it, so rating reads resolved records and stays pure. The named nodes are locked (shared)
while that is decided, so a node transfer (which locks them exclusively and is never back-dated
before the last usage on the node) cannot slip in between. A contradiction is a 422 naming the
event (:func:`suanli.ledger.revenue.attribute`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.tokens import TokenScope
from suanli.errors import ConflictError, ValidationError
from suanli.ledger.meters import UsageRecord, parse_event
from suanli.ledger.rating import add_months, month_of, period_bounds
from suanli.ledger.revenue import Held, attribute
from suanli.service import training_tokens
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store
from suanli.store import usage as store

MAX_BATCH = 10_000
RETRIES = 5


@dataclass(frozen=True)
class IngestResult:
    received: int
    accepted: int
    duplicates: int


def next_open_period(period: str, closed: set[str]) -> str:
    while period in closed:
        period = month_of(add_months(period_bounds(period)[0], 1))
    return period


def store_records(s: Session, records: Sequence[UsageRecord], ingested_at: Any,
                  tenant_of: Mapping[str, str] | None = None) -> tuple[int, int]:
    """Insert records (deduplicated by (source, id)); returns (accepted, duplicates).
    Raises ConflictError, naming them, when stored ids carry a different payload."""
    unique: dict[tuple[str, str], UsageRecord] = {}
    dup = 0
    for r in records:
        k = (r.source, r.id)
        seen = unique.get(k)
        if seen is not None:
            if seen.payload_hash != r.payload_hash:
                raise ConflictError(f"event {r.source}/{r.id} appears twice in the batch with different payloads",
                                    source=r.source, id=r.id)
            dup += 1
            continue
        unique[k] = r
    tenants = {r.subject: (tenant_of or {}).get(r.subject, r.subject) for r in unique.values()}
    closed = store.closed_periods(s, tenants.values())
    rows = []
    for _k, r in sorted(unique.items()):  # one key order for every batch: concurrent batches never deadlock
        t = tenants[r.subject]
        rows.append({"source": r.source, "event_id": r.id, "tenant_id": t, "meter": r.meter.value, "time": r.time,
                     "quantity": r.quantity, "model": r.model, "site": r.site, "supplier": r.supplier,
                     "node": r.node, "lease": r.lease, "order_id": r.order, "payload_hash": r.payload_hash,
                     "period": next_open_period(month_of(r.time), closed.get(t, set())),
                     "ingested_at": ingested_at})
    inserted = store.insert_events(s, rows)
    skipped = [k for k in unique if k not in inserted]
    if skipped:
        stored = store.stored_hashes(s, skipped)
        clash = sorted(k for k in skipped if stored.get(k) != unique[k].payload_hash)
        if clash:
            names = ", ".join(f"{a}/{b}" for a, b in clash[:5]) + (" …" if len(clash) > 5 else "")
            raise ConflictError(
                f"{len(clash)} event id(s) already ingested with a different payload: {names}; an event id may "
                "not be reused (send a new id for new usage); nothing in this batch was stored",
                conflicts=[{"source": a, "id": b} for a, b in clash[:50]])
    return len(inserted), len(skipped) + dup


def ingest(p: Platform, actor: Principal, events: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Ingest a batch of usage events (the operator or its metering agents; a lease token its job's
    training tokens: :mod:`suanli.service.training_tokens`)."""
    lease_token = actor.token_scope is TokenScope.LEASE
    grant = authorize(actor, Action.REPORT_TRAINING_TOKENS if lease_token else Action.INGEST_USAGE)
    if not events:
        raise ValidationError("send at least one event", field="events")
    if len(events) > MAX_BATCH:
        raise ValidationError(f"a batch holds at most {MAX_BATCH} events, got {len(events)}", field="events")
    now = p.clock.now()
    batch = len(events) > 1
    records = [parse_event(e, now=now, index=i if batch else None) if isinstance(e, Mapping)
               else _not_object(i) for i, e in enumerate(events)]
    for attempt in range(RETRIES):
        try:
            with p.tx() as s:
                if lease_token:
                    records = training_tokens.check_reports(s, grant, records)
                found = store.resolve_subjects(s, {r.subject for r in records})
                bad = sorted({r.subject for r in records if found.get(r.subject, ("", ""))[1] != Role.TENANT.value})
                if bad:
                    raise ValidationError(f"unknown subject(s) {bad[:10]}: subject must be a tenant account (name "
                                          "or id)", field="subject", subjects=bad[:50])
                attributed = attribute_records(s, records, batch=batch)
                accepted, dups = store_records(s, attributed, now, {k: v[0] for k, v in found.items()})
            return IngestResult(len(records), accepted, dups)
        except OperationalError:  # a lock timeout or deadlock: the whole batch rolled back; run it again
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def attribute_records(s: Session, records: Sequence[UsageRecord], *, batch: bool = True) -> list[UsageRecord]:
    """The records with node and supplier resolved at their own times (see the module docstring);
    the nodes involved stay locked (shared) until the transaction ends."""
    leases = {r.lease for r in records if r.lease and not r.node}
    held: dict[str, Held] = dict(store.lease_nodes(s, leases)) if leases else {}
    names = {r.node for r in records if r.node} | {n for xs in held.values() for _a, _b, n in xs}
    if not names and not any(r.supplier for r in records):
        return list(records)
    fleet_store.lock_nodes(s, names)
    owners = fleet_store.owners(s, names)
    sites = {n: x.site for n, x in fleet_store.nodes_by_name(s, names).items()}
    return [attribute(r, owners, held, sites=sites, where=f"event {i}: " if batch else "")
            for i, r in enumerate(records)]


def _not_object(i: int) -> UsageRecord:
    raise ValidationError(f"event {i}: each event must be a JSON object", index=i)


def usage_summary(p: Platform, actor: Principal, *, tenant: str | None = None, period: str | None = None,
                  source: str | None = None) -> list[dict[str, Any]]:
    """Usage per tenant, meter and model (a tenant sees only its own; naming another answers 404)."""
    grant = authorize(actor, Action.READ_USAGE)
    start = end = None
    if period:
        start, end = period_bounds(period)
    with p.tx() as s:
        tid: str | None
        if grant.own_tenant(tenant):
            tid = actor.tenant_id
        else:
            tid = None
            if tenant:
                found = store.resolve_subjects(s, [tenant])
                if tenant not in found:
                    raise ValidationError(f"unknown tenant {tenant!r}", field="tenant")
                tid = found[tenant][0]
        rows = store.usage_summary(s, tenant_id=tid, start=start, end=end, source=source)
    return [{"tenant": x.tenant, "meter": x.meter, "model": x.model, "quantity": x.quantity, "events": x.events}
            for x in rows]

"""Usage events: batched, idempotent inserts on ``(source, event_id)``.

:func:`insert_events` sends one ``INSERT … ON CONFLICT (source, event_id) DO NOTHING RETURNING``
per chunk (PostgreSQL and SQLite both), so a resent event is skipped by the database's unique
key, never by a read-then-write race. Rows that were skipped are compared by payload hash
(:func:`stored_hashes`) to tell a harmless duplicate from a conflicting reuse of an id.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from suanli.domain.invoices import InvoiceStatus
from suanli.domain.meters import Meter
from suanli.domain.usage import UsageRecord, UsageSum, UsageTotal
from suanli.store.money_tables import InvoiceRow, UsageEventRow
from suanli.store.tables import AccountRow, AllocationRow, DeviceRow, NodeRow

CHUNK = 1000
COLUMNS = ("source", "event_id", "tenant_id", "meter", "time", "quantity", "model", "site", "supplier", "node",
           "lease", "order_id", "payload_hash", "period", "ingested_at")


def insert_events(s: Session, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert what is new; return the (source, event_id) keys actually inserted.

    PostgreSQL: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ORDER BY source,
    event_id ON CONFLICT DO NOTHING RETURNING`` (the fixed order keeps concurrent batches from
    deadlocking). SQLite: the same INSERT as an executemany."""
    if not rows:
        return set()
    if s.get_bind().dialect.name == "postgresql":
        return _insert_pg(s, rows)
    conn = s.connection()  # (Core: no ORM work per batch)
    inserted: set[tuple[str, str]] = set()
    for i in range(0, len(rows), CHUNK):
        result = conn.execute(_INSERT_SQLITE, list(rows[i:i + CHUNK]))
        inserted.update((a, b) for a, b in result)
    return inserted


_EVENTS = cast(Table, UsageEventRow.__table__)
_INSERT_SQLITE = (sqlite.insert(_EVENTS).on_conflict_do_nothing(index_elements=["source", "event_id"])
                  .returning(_EVENTS.c.source, _EVENTS.c.event_id))
"""SQLite's insert of a chunk of events, built once."""


def _insert_pg(s: Session, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    cols = ", ".join(COLUMNS)
    raw = s.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS usage_events_in ON COMMIT DELETE ROWS AS "
                    f"SELECT {cols} FROM usage_events WITH NO DATA")
        cur.execute("TRUNCATE usage_events_in")
        with cur.copy(f"COPY usage_events_in ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in COLUMNS])
        cur.execute(f"INSERT INTO usage_events ({cols}) SELECT {cols} FROM usage_events_in "
                    "ORDER BY source, event_id ON CONFLICT (source, event_id) DO NOTHING RETURNING source, event_id")
        return {(a, b) for a, b in cur.fetchall()}


def stored_hashes(s: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    keys = list(keys)
    out: dict[tuple[str, str], str] = {}
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i:i + CHUNK]
        q = select(UsageEventRow.source, UsageEventRow.event_id, UsageEventRow.payload_hash).where(
            tuple_(UsageEventRow.source, UsageEventRow.event_id).in_(chunk))
        out.update({(a, b): h for a, b, h in s.execute(q)})
    return out


def closed_periods(s: Session, tenant_ids: Iterable[str]) -> dict[str, set[str]]:
    """Months with a live (issued or paid) invoice, per tenant: usage there bills on a later invoice."""
    ids = list(set(tenant_ids))
    out: dict[str, set[str]] = {t: set() for t in ids}
    if ids:
        for t, per in s.execute(_CLOSED, {"ids": ids}):
            out[t].add(per)
    return out


_CLOSED = select(InvoiceRow.tenant_id, InvoiceRow.period).where(
    InvoiceRow.tenant_id.in_(bindparam("ids", expanding=True)), InvoiceRow.status != InvoiceStatus.VOID.value)
"""The live invoices' months of some tenants, built once."""


Kinds = Sequence[tuple[str, str]]
"""(meter, model) pairs; model ``""`` stands for every model of the meter."""


def _kinds_sql(kinds: Kinds) -> tuple[str, list[str]]:
    parts, params = [], []
    for meter, model in kinds:
        parts.append("(meter = %s AND model = %s)" if model else "meter = %s")
        params += [meter, model] if model else [meter]
    return "(" + " OR ".join(parts) + ")", params


def _kinds_expr(kinds: Kinds) -> ColumnElement[bool]:
    return or_(*[and_(UsageEventRow.meter == m, UsageEventRow.model == mo) if mo else UsageEventRow.meter == m
                 for m, mo in kinds])


def _of_kinds(kinds: Kinds, meter: str, model: str) -> bool:
    return any(m == meter and mo in ("", model) for m, mo in kinds)


def events_for(s: Session, tenant_id: str, period: str, *, source: str | None = None,
               kinds: Kinds | None = None) -> list[UsageRecord]:
    """Every event billing on (tenant, period); only those of ``source`` and of ``kinds`` when given.

    On PostgreSQL the rows are read by the driver directly (it returns ``Decimal`` and aware UTC
    datetimes already), skipping per-value type processing: this is the billing hot path."""
    if kinds is not None and not kinds:
        return []
    if s.get_bind().dialect.name == "postgresql":
        raw = s.connection().connection.driver_connection
        assert raw is not None
        sql = f"SELECT {', '.join(COLUMNS)} FROM usage_events WHERE tenant_id = %s AND period = %s"
        params = [tenant_id, period]
        if source is not None:
            sql += " AND source = %s"
            params.append(source)
        if kinds is not None:
            cond, more = _kinds_sql(kinds)
            sql += f" AND {cond}"
            params += more
        with raw.cursor() as cur:
            cur.execute(sql, params)
            return [_record(r) for r in cur.fetchall()]
    cols = [getattr(UsageEventRow, c) for c in COLUMNS]
    q = select(*cols).where(UsageEventRow.tenant_id == tenant_id, UsageEventRow.period == period)
    if source is not None:
        q = q.where(UsageEventRow.source == source)
    if kinds is not None:
        q = q.where(_kinds_expr(kinds))
    return [_record(r) for r in s.execute(q)]


_METERS = {m.value: m for m in Meter}


def _record(r: Sequence[Any]) -> UsageRecord:
    """A usage record from a row in :data:`COLUMNS` order."""
    (source, event_id, tenant_id, meter, time, quantity, model, site, supplier, node, lease, order_id, h, _period,
     _ingested) = r
    return UsageRecord(source, event_id, _METERS[meter], tenant_id, time, quantity, model, site, supplier, node,
                       lease, order_id, h)


def usage_sums(s: Session, tenant_id: str, period: str, cuts: Sequence[datetime], *, without: Kinds = ()
               ) -> list[UsageSum]:
    """The events billing on (tenant, period), but those of the kinds ``without``, summed: one
    :class:`~suanli.domain.usage.UsageSum` per meter, dimensions (model, site, supplier, node, lease, order), month of their time, span
    between two consecutive ``cuts`` (sorted; an event at a cut is in the span the cut opens) and
    whether the quantity is zero; with the exact sum of quantities, the count, the first and last time.

    PostgreSQL sums in the database (``NUMERIC``: exact; ``width_bucket`` places a time among the
    cuts as :func:`bisect.bisect_right` does); SQLite, whose NUMERIC is a float, sums ``Decimal`` here."""
    if s.get_bind().dialect.name == "postgresql":
        raw = s.connection().connection.driver_connection
        assert raw is not None
        dims = "meter, model, site, supplier, node, lease, order_id"
        cond, more = _kinds_sql(without) if without else ("", [])
        with raw.cursor() as cur:
            cur.execute(f"SELECT {dims}, sum(quantity), count(*), min(time), max(time) FROM usage_events "
                        f"WHERE tenant_id = %s AND period = %s {f'AND NOT {cond} ' if cond else ''}"
                        f"GROUP BY {dims}, date_trunc('month', time, 'UTC'), width_bucket(time, %s::timestamptz[]), "
                        "quantity = 0 ORDER BY min(time), meter, model, site, supplier, node, lease, order_id",
                        [tenant_id, period, *more, list(cuts)])
            return [_sum(*r) for r in cur.fetchall()]
    q = select(UsageEventRow.meter, UsageEventRow.model, UsageEventRow.site, UsageEventRow.supplier,
               UsageEventRow.node, UsageEventRow.lease, UsageEventRow.order_id, UsageEventRow.quantity,
               UsageEventRow.time).where(UsageEventRow.tenant_id == tenant_id, UsageEventRow.period == period)
    acc: dict[tuple[Any, ...], list[Any]] = {}
    for *dims_, qty, t in s.execute(q):
        if without and _of_kinds(without, dims_[0], dims_[1]):
            continue
        k = (*dims_, t.year, t.month, bisect_right(cuts, t), qty == 0)
        g = acc.get(k)
        if g is None:
            acc[k] = [*dims_, qty, 1, t, t]
        else:
            g[7] += qty
            g[8] += 1
            g[9] = min(g[9], t)
            g[10] = max(g[10], t)
    return [_sum(*g) for g in sorted(acc.values(), key=lambda g: (g[9], *g[:7]))]


def _sum(meter: str, model: str, site: str, supplier: str, node: str, lease: str, order: str, quantity: Decimal,
         records: int, first: datetime, last: datetime) -> UsageSum:
    return UsageSum(Meter(meter), model, site, supplier, node, lease, order, quantity, records, first, last)


def usage_summary(s: Session, *, tenant_id: str | None, start: datetime | None = None,
                  end: datetime | None = None, source: str | None = None
                  ) -> list[UsageTotal]:
    """Per tenant, meter and model: the sum of quantity and the number of events — summed in
    Python: exact on SQLite too."""
    q = select(UsageEventRow.tenant_id, UsageEventRow.meter, UsageEventRow.model, UsageEventRow.quantity)
    if source is not None:
        q = q.where(UsageEventRow.source == source)
    if tenant_id is not None:
        q = q.where(UsageEventRow.tenant_id == tenant_id)
    if start is not None:
        q = q.where(UsageEventRow.time >= start)
    if end is not None:
        q = q.where(UsageEventRow.time < end)
    acc: dict[tuple[str, str, str], list[Any]] = {}
    for t, m, model, qty in s.execute(q):
        g = acc.setdefault((t, m, model), [Decimal(0), 0])
        g[0] += qty
        g[1] += 1
    return [UsageTotal(t, m, model, v[0], v[1]) for (t, m, model), v in sorted(acc.items())]


def resolve_subjects(s: Session, subjects: Iterable[str]) -> dict[str, tuple[str, str]]:
    """subject (account name or id) -> (account id, role), for those that exist. A member of an
    organisation resolves to the organisation's account: its usage is the organisation's (billed on
    the organisation's invoice; members have none)."""
    names = list(set(subjects))
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(names), CHUNK):
        chunk = names[i:i + CHUNK]
        q = select(AccountRow.id, AccountRow.name, AccountRow.role, AccountRow.organisation_id).where(
            AccountRow.name.in_(chunk) | AccountRow.id.in_(chunk))
        for aid, name, role, org in s.execute(q):
            out[name] = (org or aid, role)
            out[aid] = (org or aid, role)
    return out


def last_event_time(s: Session, node: str) -> datetime | None:
    """The time of the latest usage event stored on ``node`` (attributed to its owner then)."""
    t: datetime | None = s.scalar(select(func.max(UsageEventRow.time)).where(UsageEventRow.node == node))
    return t


def lease_nodes(s: Session, leases: Iterable[str]) -> dict[str, list[tuple[datetime, datetime | None, str]]]:
    """Per lease: the (start, end, node) of each of its allocations (end None: still held)."""
    wanted = sorted(set(leases))
    out: dict[str, list[tuple[datetime, datetime | None, str]]] = {}
    for i in range(0, len(wanted), CHUNK):
        q = (select(AllocationRow.lease_id, AllocationRow.start_at, AllocationRow.end_at, NodeRow.name)
             .join(DeviceRow, DeviceRow.id == AllocationRow.device_id).join(NodeRow, NodeRow.id == DeviceRow.node_id)
             .where(AllocationRow.lease_id.in_(wanted[i:i + CHUNK])))
        for lease, a, b, node in s.execute(q):
            out.setdefault(lease, []).append((a, b, node))
    return out

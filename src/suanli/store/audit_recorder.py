"""Record every change to the platform's tables in ``audit_events``, in the same transaction.

Installed once on the session factory (:func:`install`, called by ``Platform``), so that no use
case can forget it: every session that ``Platform.tx()`` opens records

- the rows its unit of work inserts, updates or deletes (``after_flush``: the objects' attribute
  history gives before -> after), and
- the rows its ``UPDATE`` / ``DELETE`` / ``INSERT`` statements touch (``do_orm_execute``: the
  matched rows are read before and after the statement; ``SELECT ... FOR UPDATE`` on PostgreSQL —
  or, for an UPDATE whose caller read the rows for update in this transaction, taken from its
  ``audit_before`` execution option: ``{primary key tuple: row values}``, e.g. ending a lease).

The audit rows are written on the session's own connection, so a rollback takes them with the
change, and a change that never commits leaves no audit row. The actor comes from the callable
given to :func:`install` (the service layer's request context; :data:`~suanli.domain.audit.SYSTEM`
when no request is being served).

Every table is audited except these, each for a reason:

- ``audit_events``: the trail itself (append-only, enforced by triggers).
- ``usage_events``: high-volume, machine-reported metering (every reported second of every job);
  ingestion is idempotent by event id and its money reaches the ledger through invoices, which
  are audited.
- ``lease_events``: a history of lease states that names its actor itself; the lease row's
  change is audited.
- ``allocations`` and ``devices``: device grants written with a lease's state change (which is
  audited on the lease), and ``devices.alloc_version``, a lock counter bumped by every placement
  attempt. ``node_allocations`` (a lease's host CPU, RAM, NIC and disk) and ``mig_instances`` (a MIG
  slice's instance on its device) likewise: holds that start and end with the lease's devices.
- ``lease_engine`` and ``engine_cursors``: the engine's mirror and cursors, rewritten by the
  reconcilers on every pass.
- ``invoice_lines``, ``package_draws``, ``voucher_uses``, ``voucher_refusals``: derived by rating
  when an invoice is issued; the invoice is audited and its document lists them.
- ``leadership``: the background leader's lease, renewed by every transaction of the background
  work; takeovers are logged by the server (``suanli.leadership``).
- ``agent_telemetry``: the latest sample of each agent node's devices, rewritten by every heartbeat.
- ``inference_requests`` and ``inference_key_usage``: the gateway's metering (one row per model call
  and a key's monthly counter), high-volume like ``usage_events`` and idempotent by request id; the
  money they cause reaches the ledger through the usage events and invoices.

Noise columns that change on every read or pass are not recorded (:data:`IGNORED_COLUMNS`: a
token's last use, a wallet policy's last check, an agent's last heartbeat and round-trip time); a
change of only those writes no row. Secret columns (any column named ``*hash*`` or ``*secret*``) are
recorded as :data:`SECRET`, never their value.

Ledger postings are recorded once per entry: the legs that one statement inserts for an entry
become one row (``object_type`` ``ledger_entries``, ``action`` ``create``, ``postings`` listing
``account amount``), beside the entry's own row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Table, event, insert, inspect, select, text, tuple_
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction, sessionmaker
from sqlalchemy.sql.elements import BindParameter

from suanli.domain.audit import MAX_VALUE_CHARS, SECRET, SYSTEM, AuditAction, AuditActor
from suanli.store.audit import AuditEventRow

EXCLUDED = frozenset({
    "audit_events", "usage_events", "lease_events", "allocations", "devices", "lease_engine", "engine_cursors",
    "node_allocations", "mig_instances",  # host and MIG holds, written with the lease's devices
    "invoice_lines", "package_draws", "voucher_uses", "voucher_refusals", "alembic_version", "leadership",
    "capacity_samples",  # measurements written by the background pass, not anybody's change
    "agent_telemetry",  # the latest device sample, rewritten by every agent heartbeat
    "inference_requests", "inference_key_usage",  # the gateway's metering, one row per model call, like usage_events
})
IGNORED_COLUMNS = frozenset({("api_tokens", "last_used_at"), ("wallet_policies", "checked_at"),
                             ("agent_nodes", "last_seen_at"), ("agent_nodes", "rtt_ms"),
                             ("agent_nodes", "updated_at")})  # every agent heartbeat
_AUDIT: Table = AuditEventRow.__table__  # type: ignore[assignment]
_OWNERS = {"invoice_id": "invoices", "lease_id": "leases", "order_id": "orders"}
"""A row without ``tenant_id`` belongs to the tenant of the object these columns name."""
_ORG_COLUMNS = ("tenant_id", "organisation_id", "org_id")
_OWNED = frozenset(_OWNERS.values())
_ROW_ACTOR_KEYS = ("lease_id", "order_id", "id")


def audited(table: str) -> bool:
    return table not in EXCLUDED


def _secret(column: str) -> bool:
    return "hash" in column or "secret" in column


def jsonable(v: Any) -> Any:
    """A value as recorded: JSON scalars as they are, decimals and instants as text, long text cut."""
    if v is None or isinstance(v, bool | int):
        return v
    if isinstance(v, Enum):
        v = v.value
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict | list | tuple):
        dumped = json.dumps(v, default=str, sort_keys=True)
        return json.loads(dumped) if len(dumped) <= MAX_VALUE_CHARS else dumped[:MAX_VALUE_CHARS] + "…"
    s = str(v)
    return s if len(s) <= MAX_VALUE_CHARS else s[:MAX_VALUE_CHARS] + "…"


class _Writer:
    """Collects the audit rows of one flush or statement and resolves the tenant each object belongs to."""

    def __init__(self, conn: Connection, actor: AuditActor, at: datetime,
                 owners: dict[tuple[str, str], str | None] | None = None,
                 row_actors: Mapping[str, AuditActor] | None = None) -> None:
        self.conn = conn
        self.actor = actor
        self.row_actors = row_actors or {}
        """order or lease id -> the actor of the rows that belong to it (:func:`row_actors`)"""
        self.at = at
        self.rows: list[dict[str, Any]] = []
        self._owners: dict[tuple[str, str], str | None] = {} if owners is None else owners
        """(owner table, id) -> tenant: the transaction's (``session.info``), so a lease inserted in it
        names the tenant of its quotes and slice rows without a read back (ORDERS, docs/performance.md)"""
        self._roles: dict[str, str | None] = {}

    def add(self, table: str, action: AuditAction, key: Sequence[Any], values: Mapping[str, Any],
            changes: dict[str, list[Any]]) -> None:
        a = self._actor(values)
        if table in _OWNED and values.get("id") and values.get("tenant_id"):
            self._owners[(table, str(values["id"]))] = str(values["tenant_id"])  # its tenant never changes
        self.rows.append({
            "at": self.at, "actor_id": a.account_id, "actor_name": a.name, "actor_role": a.role,
            "token_prefix": a.token_prefix, "address": a.address[:64], "method": a.method[:8], "path": a.path[:400],
            "action": action.value, "object_type": table,
            "object_id": "/".join("" if k is None else str(k) for k in key)[:200],
            "tenant_id": self._tenant(table, values, a), "changes": changes,
        })

    def _actor(self, values: Mapping[str, Any]) -> AuditActor:
        if self.row_actors:
            for col in _ROW_ACTOR_KEYS:
                found = self.row_actors.get(str(values.get(col)))
                if found is not None:
                    return found
        return self.actor

    def _tenant(self, table: str, values: Mapping[str, Any], a: AuditActor) -> str | None:
        for col in _ORG_COLUMNS:
            if values.get(col):
                return str(values[col])
        if table == "accounts":  # a tenant account is an organisation, or a member its admin made
            return (a.tenant_id or str(values["id"])) if values.get("role") == "tenant" else None
        if values.get("account_id"):
            return self._account_tenant(str(values["account_id"]))
        for col, owner in _OWNERS.items():
            if values.get(col) and owner != table:
                return self._owner(owner, str(values[col]))
        return a.tenant_id

    def _account_tenant(self, account_id: str) -> str | None:
        """The organisation a tenant account belongs to (a member's, or its own); ``None`` otherwise."""
        if account_id not in self._roles:
            row = self.conn.execute(text("SELECT * FROM accounts WHERE id = :i"), {"i": account_id}).mappings().first()
            self._roles[account_id] = (None if row is None or row["role"] != "tenant"
                                       else row.get("organisation_id") or account_id)
        return self._roles[account_id]

    def _owner(self, table: str, object_id: str) -> str | None:
        if (table, object_id) not in self._owners:
            self._owners[(table, object_id)] = self.conn.execute(
                text(f"SELECT tenant_id FROM {table} WHERE id = :i"), {"i": object_id}).scalar()
        return self._owners[(table, object_id)]

    def flush(self, session: Session | None = None) -> None:
        if self.rows:
            pending = None if session is None else session.info.get("audit_deferred")
            if pending is not None:
                pending.extend(self.rows)  # written by deferred()'s end, in this same transaction
            else:
                self.conn.execute(insert(_AUDIT), self.rows)
            self.rows = []


@contextmanager
def deferred(s: Session) -> Iterator[None]:
    """Write the audit rows of the changes made inside in ONE statement at the end (not one per flush or
    statement), on the same connection and in the same transaction, so a rollback still takes them with
    the changes. Used by the placement loop for each order's rows (ORDERS, docs/performance.md). An
    exception inside drops the rows: the caller's savepoint or transaction is rolled back with them."""
    if "audit_deferred" in s.info:  # already deferring: the outer block writes them
        yield
        return
    rows: list[dict[str, Any]] = []
    s.info["audit_deferred"] = rows
    try:
        yield
    finally:
        del s.info["audit_deferred"]
    if rows:
        s.connection().execute(insert(_AUDIT), rows)


@contextmanager
def row_actors(s: Session, by_id: Mapping[str, AuditActor]) -> Iterator[None]:
    """Rows written inside that belong to one of these orders or leases (by ``lease_id``, ``order_id`` or
    their own ``id``) are recorded as done by its actor; any other row by the context's actor. For a batch of
    several tenants' orders written in one statement per table (BATCHWRITE, docs/performance.md)."""
    s.info["audit_row_actors"] = by_id
    try:
        yield
    finally:
        del s.info["audit_row_actors"]


def _row_actors(session: Session) -> Mapping[str, AuditActor] | None:
    found: Mapping[str, AuditActor] | None = session.info.get("audit_row_actors")
    return found


def _recorded(table: str, column: str, value: Any) -> Any:
    return SECRET if _secret(column) and value is not None else jsonable(value)


def _changes(table: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    cols = list((after or before or {}).keys())
    out: dict[str, list[Any]] = {}
    for c in cols:
        if (table, c) in IGNORED_COLUMNS:
            continue
        b = None if before is None else before.get(c)
        a = None if after is None else after.get(c)
        if before is not None and after is not None and b == a:
            continue
        if (before is None and a is None) or (after is None and b is None):
            continue
        out[c] = [_recorded(table, c, b), _recorded(table, c, a)]
    return out


def _owners(session: Session) -> dict[tuple[str, str], str | None]:
    owners: dict[tuple[str, str], str | None] = session.info.setdefault("audit_owners", {})
    return owners


def current_actor(s: Session) -> AuditActor:
    """The actor of the changes ``s`` makes now (:data:`SYSTEM` on a session without a recorder)."""
    getter = s.info.get("audit_actor")
    return getter() if callable(getter) else SYSTEM


def install(factory: sessionmaker[Session], actor: Callable[[], AuditActor], now: Callable[[], datetime]) -> None:
    """Record the changes of every session ``factory`` makes (see the module docstring)."""
    factory.configure(info={"audit_actor": actor})

    def stamp(session: Session) -> datetime:
        """One time for every record of a transaction (the clock is read once, at its first change)."""
        at = session.info.get("audit_at")
        if at is None:
            at = session.info["audit_at"] = now()
        return at

    @event.listens_for(factory, "after_transaction_end")
    def _forget(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop("audit_at", None)
            session.info.pop("audit_owners", None)

    @event.listens_for(factory, "after_flush")
    def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
        w: _Writer | None = None
        for obj, action in ([(o, AuditAction.CREATE) for o in session.new]
                            + [(o, AuditAction.UPDATE) for o in session.dirty]
                            + [(o, AuditAction.DELETE) for o in session.deleted]):
            state = inspect(obj)
            table = state.mapper.local_table
            if not isinstance(table, Table) or not audited(table.name):
                continue
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            for attr in state.mapper.column_attrs:
                col = attr.columns[0].name
                hist = state.attrs[attr.key].history
                current = hist.added[0] if hist.added else (hist.unchanged[0] if hist.unchanged else None)
                after[col] = current
                before[col] = hist.deleted[0] if hist.deleted else current
            if action is AuditAction.CREATE:
                changes = _changes(table.name, None, after)
            elif action is AuditAction.DELETE:
                changes = _changes(table.name, before, None)
            else:
                changes = _changes(table.name, before, after)
                if not changes:
                    continue
            if w is None:
                w = _Writer(session.connection(), actor(), stamp(session), _owners(session))
            key = state.mapper.primary_key_from_instance(obj)
            w.add(table.name, action, key, after if action is not AuditAction.DELETE else before, changes)
        if w is not None:
            w.flush(session)

    @event.listens_for(factory, "do_orm_execute")
    def _on_execute(orm: ORMExecuteState) -> Any:
        if not (orm.is_update or orm.is_delete or orm.is_insert):
            return None
        table = getattr(orm.statement, "table", None)
        if not isinstance(table, Table) or not audited(table.name):
            return None
        at = lambda: stamp(orm.session)  # noqa: E731
        if orm.is_insert:
            return _inserted(orm, table, actor, at)
        return _updated(orm, table, actor, at)


def _inserted(orm: ORMExecuteState, table: Table, actor: Callable[[], AuditActor], now: Callable[[], datetime]
              ) -> Any:
    result = orm.invoke_statement()
    params = orm.parameters
    rows: list[Mapping[str, Any]] = (list(params) if isinstance(params, Sequence) and not isinstance(params, Mapping)
                                     else [params] if params else [orm.statement.compile().params])  # type: ignore[attr-defined]
    w = _Writer(orm.session.connection(), actor(), now(), _owners(orm.session), _row_actors(orm.session))
    if table.name == "ledger_postings":
        by_entry: dict[Any, list[str]] = {}
        for r in rows:
            by_entry.setdefault(r.get("entry_id"), []).append(f"{r.get('account')} {jsonable(r.get('amount'))}")
        for entry, legs in by_entry.items():
            tenants = [leg.split(":", 1)[1].split(" ", 1)[0] for leg in legs
                       if leg.split(":", 1)[0] in ("wallet", "receivable", "credit")]
            w.add("ledger_entries", AuditAction.CREATE, [entry], {"tenant_id": tenants[0] if tenants else None},
                  {"postings": [None, legs if len(json.dumps(legs)) <= 4 * MAX_VALUE_CHARS else legs[:20]]})
    else:
        pk = [c.name for c in table.primary_key.columns]
        for r in rows:
            values = {str(getattr(k, "name", k)): v for k, v in r.items()}
            w.add(table.name, AuditAction.CREATE, [values.get(c) for c in pk], values, _changes(table.name, None, values))
    w.flush(orm.session)
    return result


def _updated(orm: ORMExecuteState, table: Table, actor: Callable[[], AuditActor], now: Callable[[], datetime]
             ) -> Any:
    stmt: Any = orm.statement
    if orm.is_update:
        set_cols = {str(getattr(k, "key", k)) for k in (getattr(stmt, "_values", None) or {})}
        if set_cols and all((table.name, c) in IGNORED_COLUMNS for c in set_cols):
            return None
    conn = orm.session.connection()
    pk = list(table.primary_key.columns)
    known = orm.execution_options.get("audit_before")
    if known is not None and orm.is_update:  # the caller read these rows for update in this transaction
        result = orm.invoke_statement()
        w = _Writer(conn, actor(), now(), _owners(orm.session))
        for key, after in _after(conn, table, pk, known, stmt, orm.parameters):
            changes = _changes(table.name, known[key], after)
            if changes:
                w.add(table.name, AuditAction.UPDATE, key, after, changes)
        w.flush(orm.session)
        return result
    q = select(table)
    if stmt.whereclause is not None:
        q = q.where(stmt.whereclause)
    params = orm.parameters
    if isinstance(params, Sequence) and not isinstance(params, Mapping) and params:  # bulk UPDATE by primary key
        names = {str(k) for r in params for k in r} - {c.key for c in pk}
        if names and all((table.name, c) in IGNORED_COLUMNS for c in names):
            return None
        keys = [tuple(r.get(c.key) for c in pk) for r in params]
        q = q.where(tuple_(*pk).in_(keys) if len(pk) > 1 else pk[0].in_([k[0] for k in keys]))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    before = {tuple(r[c.name] for c in pk): dict(r) for r in conn.execute(q).mappings()}
    result = orm.invoke_statement()
    if not before:
        return result
    w = _Writer(conn, actor(), now(), _owners(orm.session))
    if orm.is_delete:
        for key, b in before.items():
            w.add(table.name, AuditAction.DELETE, key, b, _changes(table.name, b, None))
    else:
        for key, after in _after(conn, table, pk, before, stmt, params):
            changes = _changes(table.name, before[key], after)
            if changes:
                w.add(table.name, AuditAction.UPDATE, key, after, changes)
    w.flush(orm.session)
    return result


def _after(conn: Any, table: Table, pk: list[Any], before: dict[tuple[Any, ...], dict[str, Any]], stmt: Any,
           params: Any) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The rows as the UPDATE left them: the rows before with the values it set, when it set plain
    values (an UPDATE on a lease's state, reason, times: no statement), else read back."""
    values = getattr(stmt, "_values", None) or {}
    literal = {str(getattr(k, "key", k)): v.value for k, v in values.items() if isinstance(v, BindParameter)}
    plain = (values and len(literal) == len(values) and not params and not getattr(stmt, "_returning", None)
             and all(c.name == c.key for c in table.columns) and set(literal) <= set(table.columns.keys()))
    if plain:
        for key, row in before.items():
            yield key, {**row, **literal}
        return
    keys = list(before)
    after_q = select(table).where(tuple_(*pk).in_(keys) if len(pk) > 1 else pk[0].in_([k[0] for k in keys]))
    for r in conn.execute(after_q).mappings():
        yield tuple(r[c.name] for c in pk), dict(r)

"""Reading the audit trail: list with filters, export as CSV or JSON.

The operator reads everything; a tenant reads the entries of its own organisation only (whatever
it asks for; naming another tenant answers 404); a supplier reads none (403). Writing is not here:
every transaction records its own changes (:mod:`suanli.store.audit_recorder`).

Exports are streamed in batches of :data:`EXPORT_BATCH` rows, each read in its own short
transaction (a long export never holds the database), oldest first, at most :data:`MAX_EXPORT`
rows per export (narrow with ``since``/``until`` for more).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.audit import AuditAction, AuditEvent, AuditFilter
from suanli.domain.authz import Action, authorize
from suanli.errors import NotFoundError, ValidationError
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import audit as store

MAX_EXPORT = 100_000
EXPORT_BATCH = 500
CSV_COLUMNS = ("id", "at", "actor", "actor_id", "actor_role", "token_prefix", "address", "method", "path", "action",
               "object_type", "object_id", "tenant_id", "summary", "changes")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def parse_action(action: str | None) -> AuditAction | None:
    if action is None or action == "":
        return None
    try:
        return AuditAction(action)
    except ValueError:
        raise ValidationError(f"action {action!r} not allowed; allowed: {', '.join(a.value for a in AuditAction)}",
                              field="action") from None


def parse_format(fmt: str) -> ExportFormat:
    try:
        return ExportFormat(fmt)
    except ValueError:
        raise ValidationError(f"format {fmt!r} not allowed; allowed: csv, json", field="format") from None


def make_filter(*, actor: str | None = None, action: str | None = None, object_type: str | None = None,
                object_id: str | None = None, tenant: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> AuditFilter:
    """A filter from request values (``tenant``: a name or id; resolved by :func:`_scoped`)."""
    if since is not None and until is not None and until <= since:
        raise ValidationError(f"until must be after since (since {since.isoformat()}, until {until.isoformat()})",
                              field="until")
    return AuditFilter(actor or None, parse_action(action), object_type or None, object_id or None, tenant or None,
                       since, until)


def _scoped(p: Platform, actor: Principal, f: AuditFilter) -> AuditFilter:
    """The filter as this actor may use it: a tenant's narrowed to its own organisation."""
    grant = authorize(actor, Action.READ_AUDIT)
    if grant.own_tenant(f.tenant_id):
        return AuditFilter(f.actor, f.action, f.object_type, f.object_id, grant.tenant_id, f.since, f.until)
    if f.tenant_id is None:
        return f
    with p.tx() as s:
        try:
            tenant = account_store.get_account(s, f.tenant_id)
        except NotFoundError:
            raise NotFoundError(f"no tenant {f.tenant_id!r}", tenant=f.tenant_id) from None
    return AuditFilter(f.actor, f.action, f.object_type, f.object_id, tenant.account_id, f.since, f.until)


def list_events(p: Platform, actor: Principal, f: AuditFilter, *, offset: int = 0, limit: int = 50
                ) -> list[AuditEvent]:
    """Newest first."""
    scoped = _scoped(p, actor, f)
    with p.tx() as s:
        return store.list_events(s, scoped, offset=offset, limit=limit)


def iter_events(p: Platform, actor: Principal, f: AuditFilter, *, limit: int = MAX_EXPORT) -> Iterator[AuditEvent]:
    """Oldest first, at most ``limit`` (1..MAX_EXPORT), one short transaction per batch."""
    if not 1 <= limit <= MAX_EXPORT:
        raise ValidationError(f"limit must be between 1 and {MAX_EXPORT}", limit=limit)
    scoped = _scoped(p, actor, f)

    def gen() -> Iterator[AuditEvent]:
        after, left = 0, limit
        while left > 0:
            with p.tx() as s:
                batch = store.events_after(s, scoped, after, min(EXPORT_BATCH, left))
            if not batch:
                return
            yield from batch
            after, left = batch[-1].id, left - len(batch)

    return gen()


def event_doc(e: AuditEvent) -> dict[str, Any]:
    a = e.actor
    return {"id": e.id, "at": e.at.isoformat(), "actor": a.name, "actor_id": a.account_id, "actor_role": a.role,
            "token_prefix": a.token_prefix, "address": a.address, "method": a.method, "path": a.path,
            "action": e.action.value, "object_type": e.object_type, "object_id": e.object_id,
            "tenant_id": e.tenant_id, "summary": e.summary, "changes": e.changes}


def export(p: Platform, actor: Principal, f: AuditFilter, fmt: str, *, limit: int = MAX_EXPORT) -> Iterator[str]:
    """The export as text chunks: CSV (a header, one row per event, ``changes`` as JSON) or a JSON
    array of :func:`event_doc` objects. Authorization and the filter are checked before the first chunk."""
    form = parse_format(fmt)
    events = iter_events(p, actor, f, limit=limit)
    return _csv(events) if form is ExportFormat.CSV else _json(events)


def _csv(events: Iterator[AuditEvent]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for i, e in enumerate(events):
        doc = event_doc(e)
        doc["changes"] = json.dumps(doc["changes"], ensure_ascii=False, sort_keys=True)
        w.writerow([_cell(doc[c]) for c in CSV_COLUMNS])
        if i % 200 == 199:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cell(v: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR
    first) gets a leading ``'`` (names and reasons are tenants' free text)."""
    if v is None:
        return ""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _json(events: Iterator[AuditEvent]) -> Iterator[str]:
    yield "["
    for i, e in enumerate(events):
        yield ("," if i else "") + "\n" + json.dumps(event_doc(e), ensure_ascii=False)
    yield "\n]\n"

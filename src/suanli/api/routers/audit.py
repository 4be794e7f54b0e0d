"""The audit trail: the operator reads and exports everything, a tenant its own organisation's
entries, a supplier nothing (``Action.READ_AUDIT``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from suanli.api.deps import PageDep, PlatformDep, PrincipalDep
from suanli.api.schemas.audit import AuditEventResponse
from suanli.api.schemas.common import Name, Page, Text
from suanli.domain.audit import AuditFilter
from suanli.domain.clock import parse_instant
from suanli.service import audit

router = APIRouter(tags=["audit"])

_Name = Annotated[Name | None, Query(description="an account name or id")]
_Id = Annotated[Text | None, Query(max_length=200)]
_When = Annotated[Text | None, Query(max_length=64, description="ISO-8601 instant with a time zone")]
_Action = Annotated[Name | None, Query(max_length=16, description="create | update | delete")]
_Type = Annotated[Name | None, Query(max_length=48, description="audited table: prices, leases, invoices ...")]


def _filter(actor: str | None, action: str | None, object_type: str | None, object_id: str | None,
            tenant: str | None, since: str | None, until: str | None) -> AuditFilter:
    return audit.make_filter(actor=actor, action=action, object_type=object_type, object_id=object_id, tenant=tenant,
                             since=parse_instant(since, "since", need_zone=True),
                             until=parse_instant(until, "until", need_zone=True))


@router.get("/v1/audit", response_model=Page[AuditEventResponse])
def list_audit(p: PlatformDep, who: PrincipalDep, page: PageDep, actor: _Name = None, action: _Action = None,
               object_type: _Type = None, object_id: _Id = None, tenant: _Name = None, since: _When = None,
               until: _When = None) -> dict[str, Any]:
    """Recorded changes, newest first; every filter narrows (``since`` inclusive, ``until`` exclusive)."""
    offset, limit = page
    f = _filter(actor, action, object_type, object_id, tenant, since, until)
    items = audit.list_events(p, who, f, offset=offset, limit=limit + 1)
    return {"items": [audit.event_doc(e) for e in items[:limit]], "offset": offset, "limit": limit,
            "next_offset": offset + limit if len(items) > limit else None}


@router.get("/v1/audit/export", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "CSV (header row; changes as JSON) or a JSON array, oldest first"}})
def export_audit(p: PlatformDep, who: PrincipalDep, format: Annotated[Name, Query(max_length=8)] = "csv",
                 actor: _Name = None, action: _Action = None, object_type: _Type = None, object_id: _Id = None,
                 tenant: _Name = None, since: _When = None, until: _When = None,
                 limit: Annotated[int, Query(ge=1, le=audit.MAX_EXPORT)] = audit.MAX_EXPORT) -> StreamingResponse:
    """The filtered trail as a file, streamed, at most 100,000 rows (narrow with since/until for more)."""
    f = _filter(actor, action, object_type, object_id, tenant, since, until)
    chunks = audit.export(p, who, f, format, limit=limit)
    media = "text/csv" if format == "csv" else "application/json"
    return StreamingResponse(chunks, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="audit.{format}"'})

"""Audit trail endpoints: list with filters, export as CSV or JSON.

::

    with SuanliClient(server, token) as api:
        page = AuditClient(api).list(object_type="prices", since=datetime(2026, 12, 1, tzinfo=UTC))
        for e in page.items:
            print(e.at, e.actor, e.action, e.object_type, e.object_id, e.summary)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.api.schemas.audit import AuditEventResponse
from suanli.api.schemas.common import Page
from suanli.client.http import Endpoints


def _filters(actor: str | None, action: str | None, object_type: str | None, object_id: str | None,
             tenant: str | None, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id, "tenant": tenant,
            "since": since.isoformat() if since else None, "until": until.isoformat() if until else None}


class AuditClient(Endpoints):

    def list(self, *, actor: str | None = None, action: str | None = None, object_type: str | None = None,
             object_id: str | None = None, tenant: str | None = None, since: datetime | None = None,
             until: datetime | None = None, offset: int = 0, limit: int = 50) -> Page[AuditEventResponse]:
        """Recorded changes, newest first (the operator: all; a tenant: its own organisation's)."""
        params = _filters(actor, action, object_type, object_id, tenant, since, until) | {
            "offset": offset, "limit": limit}
        return self._one(Page[AuditEventResponse], "GET", "/v1/audit", params=params)

    def export(self, fmt: str = "csv", *, actor: str | None = None, action: str | None = None,
               object_type: str | None = None, object_id: str | None = None, tenant: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int | None = None) -> str:
        """The filtered trail as CSV or JSON text, oldest first (at most 100,000 rows)."""
        params = _filters(actor, action, object_type, object_id, tenant, since, until) | {
            "format": fmt, "limit": limit}
        text: str = self.api.request("GET", "/v1/audit/export", params=params, decode=False)
        return text

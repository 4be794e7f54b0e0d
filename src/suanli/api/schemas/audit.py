"""Wire schemas of the audit trail (``GET /v1/audit``, ``GET /v1/audit/export``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEventResponse(BaseModel):
    """One recorded change: who (account, role, token prefix, client address, request), what
    (action on an object of a type), whose (the tenant organisation it belongs to), and the
    changed columns ``{column: [before, after]}`` with a one-line ``summary``."""

    id: int
    at: datetime
    actor: str = Field(description="account name, or 'system' for the platform's own changes")
    actor_id: str
    actor_role: str
    token_prefix: str
    address: str
    method: str
    path: str
    action: str = Field(description="create | update | delete")
    object_type: str = Field(description="the audited table: prices, leases, invoices, accounts, api_tokens ...")
    object_id: str
    tenant_id: str | None
    summary: str
    changes: dict[str, list[Any]]

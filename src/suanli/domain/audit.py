"""The audit trail's vocabulary: who acted (:class:`AuditActor`), what one recorded change is
(:class:`AuditEvent`) and how a reader narrows the trail (:class:`AuditFilter`).

An event records one row of an audited table being created, updated or deleted, with the columns
that changed as ``{column: [before, after]}`` (``before`` is ``None`` for a creation, ``after`` for
a deletion). Values are JSON text: decimals and instants as strings, long text cut to
:data:`MAX_VALUE_CHARS`. Secret columns (token hashes) are never recorded, only named as changed.

The actor of a change made by the platform itself (background reconcilers, bootstrap, the CLI's
``serve`` set-up) is :data:`SYSTEM`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from suanli.domain.accounts import Principal, Role

MAX_VALUE_CHARS = 200
"""A recorded value longer than this is cut and ends with ``…``."""
SECRET = "<secret>"
"""Written instead of a secret column's value (the column is named as changed, its value never)."""


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class AuditActor:
    """Who caused a change, and through which request (empty fields: not through the API)."""

    account_id: str = ""
    name: str = "system"
    role: str = "system"
    token_prefix: str = ""
    address: str = ""
    method: str = ""
    path: str = ""
    tenant: str = ""
    """The tenant organisation the actor acts for ("" for the operator, a supplier, the platform)."""

    @classmethod
    def of(cls, principal: Principal, *, address: str = "", method: str = "", path: str = "") -> AuditActor:
        tenant = principal.tenant_id if principal.role is Role.TENANT else ""  # a member's: its organisation's
        return cls(principal.account_id, principal.name, principal.role.value, principal.token_prefix or "",
                   address, method, path, tenant)

    @property
    def tenant_id(self) -> str | None:
        """The tenant organisation the actor belongs to (``None``: not a tenant)."""
        return self.tenant or None


SYSTEM = AuditActor()


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    actor: AuditActor
    action: AuditAction
    object_type: str
    """The audited table (``prices``, ``leases``, ``invoices`` ...)."""
    object_id: str
    """The row's primary key (parts joined with ``/``); ``""`` if a bulk insert did not name it."""
    tenant_id: str | None
    """The tenant organisation the object belongs to (``None``: the platform's own, e.g. a list price)."""
    changes: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """``column: before -> after`` for each changed column, ``; ``-separated."""
        return summarize(self.action, self.changes)


def summarize(action: AuditAction, changes: dict[str, list[Any]]) -> str:
    parts = []
    for col, (before, after) in changes.items():
        if action is AuditAction.CREATE:
            parts.append(f"{col}={_show(after)}")
        elif action is AuditAction.DELETE:
            parts.append(f"{col}={_show(before)}")
        else:
            parts.append(f"{col}: {_show(before)} -> {_show(after)}")
    return "; ".join(parts)


def _show(v: Any) -> str:
    return "null" if v is None else repr(v) if isinstance(v, str) and (v == "" or " " in v) else str(v)


@dataclass(frozen=True)
class AuditFilter:
    """What a reader asks for; every field narrows (``None``: any). ``since`` inclusive, ``until``
    exclusive. A tenant's reads are narrowed to its own organisation by the service, whatever it asks."""

    actor: str | None = None
    """An account name or id."""
    action: AuditAction | None = None
    object_type: str | None = None
    object_id: str | None = None
    tenant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

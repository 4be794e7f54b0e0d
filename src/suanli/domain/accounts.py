"""Accounts and roles. Every API request acts as one :class:`Principal`; what each role may do is
decided in :mod:`suanli.domain.authz`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    SUPPLIER = "supplier"
    TENANT = "tenant"


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account id, its role, and for a supplier account the supplier it speaks for."""

    account_id: str
    name: str
    role: Role
    supplier: str | None = None
    token_prefix: str | None = None
    """The first characters of the token this request authenticated with (for the audit trail);
    ``None`` for the platform itself (bootstrap, reconcilers)."""

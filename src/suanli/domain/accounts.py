"""Accounts and roles. Every API request acts as one :class:`Principal`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from suanli.errors import PermissionDeniedError


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

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise PermissionDeniedError(
                f"this needs the {allowed} role; account {self.name!r} is a {self.role.value}",
                role=self.role.value, required=[r.value for r in roles],
            )

"""Accounts and roles. Every API request acts as one :class:`Principal`; what each role may do is
decided in :mod:`suanli.domain.authz`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from suanli.domain.members import MemberRole
from suanli.domain.tokens import TokenScope


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
    token_id: int | None = None
    """The id of that token (``None``: the platform itself)."""
    token_scope: TokenScope = TokenScope.FULL
    """What that token may do within the role (:mod:`suanli.domain.tokens`); enforced by ``authorize``."""
    token_lease: str | None = None
    """For a ``lease`` token: the one lease it may touch."""
    organisation: str | None = None
    """For a member of a tenant organisation: the organisation's account id (``None`` for the
    organisation's own account and for operators and suppliers)."""
    organisation_name: str | None = None
    member_role: MemberRole | None = None
    """A tenant's role in its organisation (the organisation's own account: admin); ``None`` for
    operators and suppliers. What each member role may do: :mod:`suanli.domain.members`."""

    @property
    def tenant_id(self) -> str:
        """The tenant this principal acts for: its organisation's account id (its own for the
        organisation's account). Everything a member orders, runs or buys belongs to it."""
        return self.organisation or self.account_id

    @property
    def tenant_name(self) -> str:
        return self.organisation_name or self.name

    def as_tenant(self) -> Principal:
        """The organisation this principal acts for, as the principal of its own account."""
        if self.organisation is None:
            return self
        return replace(self, account_id=self.organisation, name=self.organisation_name or self.organisation,
                       organisation=None, organisation_name=None, member_role=MemberRole.ADMIN)

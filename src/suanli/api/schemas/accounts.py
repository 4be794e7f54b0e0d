from __future__ import annotations

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Name, Wire


class AccountCreateRequest(Wire):
    name: Name = Field(description="1 to 64 characters of letters A-Z a-z, digits, '-', '_' and '.'")
    role: Name = Field(description="operator | supplier | tenant")
    supplier: Name | None = None


class AccountResponse(BaseModel):
    id: str
    name: str
    role: str
    supplier: str | None = None
    organisation: str | None = None
    """A tenant member's organisation (its name); null for the organisation's own account."""
    member_role: str | None = None
    """A tenant's role in its organisation: admin (the organisation's own account too), developer,
    finance or viewer; null for operators and suppliers."""
    spend_limit: str | None = None
    """``GET /v1/me`` of a member: its monthly spend limit (null: none), in ``currency``."""
    spent: str | None = None
    """``GET /v1/me`` of a member: what it committed this calendar month (UTC)."""
    currency: str | None = None
    time_zone: str | None = None
    """``GET /v1/me``: the operator's IANA time zone (``SUANLI_TIME_ZONE``) the console shows times in."""


class AccountCreatedResponse(AccountResponse):
    token: str


class TokenResponse(BaseModel):
    token: str

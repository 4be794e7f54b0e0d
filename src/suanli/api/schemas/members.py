"""Wire schemas of organisation members (``/v1/members``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from suanli.api.schemas.common import AmountOrZero, Name, Wire


class MemberAddRequest(Wire):
    name: Name
    """The member's account name (1-120 letters, digits, '-', '_', '.'; unique on the platform)."""
    role: Name
    """admin | developer | finance | viewer"""
    spend_limit: AmountOrZero | None = None
    """Monthly limit in the operator's currency (a decimal string); absent: no limit."""
    tenant: Name | None = None
    """The organisation (the operator names one; a tenant's admin manages its own)."""


class MemberChangeRequest(Wire):
    role: Name | None = None
    spend_limit: AmountOrZero | None = None
    clear_limit: bool = False
    """True: remove the member's limit."""
    tenant: Name | None = None


class MemberResponse(BaseModel):
    id: str
    name: str
    organisation: str
    role: str
    spend_limit: str | None
    """Monthly, in ``currency``; null: no limit."""
    spent: str
    """Committed this calendar month (UTC): its orders' committed cost and the packages it bought."""
    currency: str
    created_at: datetime


class MemberAddedResponse(MemberResponse):
    token: str
    """The member's first API token (shown once)."""

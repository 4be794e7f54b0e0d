from __future__ import annotations

from pydantic import BaseModel

from suanli.api.schemas.common import Wire


class AccountCreateRequest(Wire):
    name: str
    role: str
    supplier: str | None = None


class AccountResponse(BaseModel):
    id: str
    name: str
    role: str
    supplier: str | None = None


class AccountCreatedResponse(AccountResponse):
    token: str


class TokenResponse(BaseModel):
    token: str

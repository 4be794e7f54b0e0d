"""Wire schemas of API tokens: make one (the secret comes back once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Name, Wire

LIFETIME_MIN_S = 60
LIFETIME_MAX_S = 3660 * 86_400  # about ten years (domain.tokens.MAX_LIFETIME)


class TokenCreateRequest(Wire):
    """A new token: all fields optional (a full token that never expires, without a label)."""

    label: Annotated[str, Field(max_length=80, description="What the token is for (at most 80 characters of "
                                                            "text without control characters).")] = ""
    scope: Annotated[str, Field(max_length=16, description="full (default) | read (changes nothing) | lease (one "
                                                           "lease of your own: read it, run jobs on it) | "
                                                           "inference (calls models only)")] = "full"
    lease: Annotated[Name | None, Field(description="The lease of a lease token (scope lease only).")] = None
    expires_at: Annotated[datetime | None, Field(description="When it stops working (ISO-8601 with a time zone, "
                                                             "60 s to ~10 years from now).")] = None
    expires_in_s: Annotated[int | None, Field(strict=True, ge=LIFETIME_MIN_S, le=LIFETIME_MAX_S,
                                              description="Its lifetime in seconds instead of expires_at.")] = None
    rate_limit_per_minute: Annotated[int | None, Field(strict=True, description=(
        "An inference key's own requests per minute, 1 to 100,000 (scope inference only; the server's "
        "per-token limit still applies)."))] = None
    token_quota: Annotated[int | None, Field(strict=True, description=(
        "An inference key's prompt + completion tokens per UTC month, 1 to 10^15 (scope inference only)."))] = None


class ApiTokenResponse(BaseModel):
    """A token as listed: never its secret."""

    id: int
    account: str
    account_id: str
    prefix: str
    label: str
    scope: str
    lease: str | None = None
    state: str
    """active | expired | revoked"""
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    """The last request made with it (recorded at most once a minute)."""
    revoked_at: datetime | None = None
    rate_limit_per_minute: int | None = None
    """An inference key's own requests per minute (``None``: only the server's per-token limit)."""
    token_quota: int | None = None
    """An inference key's tokens per UTC month (``None``: no quota)."""


class TokenCreatedResponse(ApiTokenResponse):
    """A new token, with its secret: shown this once, never again."""

    token: str

"""API tokens: ``GET /v1/tokens`` (yours; the operator: ``account=`` or ``all=true``), ``POST /v1/tokens``
(a new token for yourself, never wider than the one asking), ``POST /v1/tokens/{token_id}/revoke``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.tokens import ApiTokenResponse, TokenCreatedResponse, TokenCreateRequest
from suanli.domain.tokens import ApiToken
from suanli.service import tokens
from suanli.service.platform import Platform

router = APIRouter(tags=["tokens"])


def token_out(p: Platform, t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "account": t.account, "account_id": t.account_id, "prefix": t.prefix, "label": t.label,
            "scope": t.scope.value, "lease": t.lease_id, "state": t.state(p.clock.now()), "created_at": t.created_at,
            "expires_at": t.expires_at, "last_used_at": t.last_used_at, "revoked_at": t.revoked_at,
            "rate_limit_per_minute": t.rate_limit_per_minute, "token_quota": t.token_quota}


def options(body: TokenCreateRequest | None) -> tokens.TokenOptions:
    if body is None:
        return tokens.TokenOptions()
    return tokens.TokenOptions(label=body.label, scope=body.scope, lease=body.lease, expires_at=body.expires_at,
                               expires_in_s=body.expires_in_s, rate_limit_per_minute=body.rate_limit_per_minute,
                               token_quota=body.token_quota)


@router.get("/v1/tokens", response_model=list[ApiTokenResponse])
def list_tokens(p: PlatformDep, who: PrincipalDep, account: Name | None = None, all: bool = False
                ) -> list[dict[str, Any]]:
    """Your tokens (no secrets); the operator names any ``account`` or asks for ``all``."""
    return [token_out(p, t) for t in tokens.list_tokens(p, who, account=account, every_account=all)]


@router.post("/v1/tokens", response_model=TokenCreatedResponse, status_code=201)
def create_token(p: PlatformDep, who: PrincipalDep, body: TokenCreateRequest | None = None) -> dict[str, Any]:
    """A new token for yourself; its secret is in this answer only."""
    t, secret = tokens.create_token(p, who, options(body))
    return token_out(p, t) | {"token": secret}


@router.post("/v1/tokens/{token_id}/revoke", response_model=ApiTokenResponse)
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], p: PlatformDep,  # the id column is 32-bit
                 who: PrincipalDep) -> dict[str, Any]:
    """Revoke one of your tokens (the operator: anyone's); it stops working at once."""
    return token_out(p, tokens.revoke_token(p, who, token_id))

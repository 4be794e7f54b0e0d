from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.routers.tokens import options, token_out
from suanli.api.schemas.accounts import (
    AccountCreatedResponse,
    AccountCreateRequest,
    AccountResponse,
)
from suanli.api.schemas.common import Name
from suanli.api.schemas.tokens import TokenCreatedResponse, TokenCreateRequest
from suanli.domain.accounts import Principal
from suanli.service import accounts, members, tokens

router = APIRouter(tags=["accounts"])


def account_out(a: Principal) -> dict[str, Any]:
    return {"id": a.account_id, "name": a.name, "role": a.role.value, "supplier": a.supplier,
            "organisation": a.organisation_name, "member_role": a.member_role.value if a.member_role else None}


@router.get("/v1/me", response_model=AccountResponse)
def me(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """The account in effect; a member also sees its monthly spend limit and what it spent this month."""
    out = account_out(accounts.whoami(who)) | {"time_zone": p.settings.time_zone}
    own = members.own_spend(p, who)
    if own is not None:
        limit, spent = own
        out |= {"spend_limit": None if limit is None else format(limit, "f"), "spent": format(spent, "f"),
                "currency": p.settings.currency}
    return out


@router.get("/v1/accounts", response_model=list[AccountResponse])
def list_accounts(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [account_out(a) for a in accounts.list_accounts(p, who)]


@router.post("/v1/accounts", response_model=AccountCreatedResponse, status_code=201)
def create_account(body: AccountCreateRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    a, token = accounts.create_account(p, who, body.name, body.role, body.supplier)
    return {**account_out(a), "token": token}


@router.post("/v1/accounts/{name}/tokens", response_model=TokenCreatedResponse, status_code=201)
def new_token(name: Name, p: PlatformDep, who: PrincipalDep, body: TokenCreateRequest | None = None
              ) -> dict[str, Any]:
    """A new token for any account (operator), with the options of ``POST /v1/tokens``; the secret is
    in this answer only."""
    t, secret = tokens.issue_for_account(p, who, name, options(body))
    return token_out(p, t) | {"token": secret}

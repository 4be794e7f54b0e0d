"""Organisation members: ``/v1/members`` (a tenant organisation's admin; the operator for any)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.members import (
    MemberAddedResponse,
    MemberAddRequest,
    MemberChangeRequest,
    MemberResponse,
)
from suanli.domain.members import Member
from suanli.service import members
from suanli.service.platform import Platform

router = APIRouter(tags=["members"])


def member_out(p: Platform, m: Member) -> dict[str, Any]:
    return {"id": m.account_id, "name": m.name, "organisation": m.organisation, "role": m.role.value,
            "spend_limit": None if m.spend_limit is None else format(m.spend_limit, "f"),
            "spent": format(m.spent, "f"), "currency": p.settings.currency, "created_at": m.created_at}


@router.get("/v1/members", response_model=list[MemberResponse])
def list_members(p: PlatformDep, who: PrincipalDep, tenant: Name | None = None) -> list[dict[str, Any]]:
    """The organisation's members with what each committed this month (UTC)."""
    return [member_out(p, m) for m in members.list_members(p, who, tenant)]


@router.post("/v1/members", response_model=MemberAddedResponse, status_code=201)
def add_member(body: MemberAddRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Add a member (a new tenant account of the organisation); answers its first token."""
    m, token = members.add_member(p, who, body.name, body.role, body.spend_limit, body.tenant)
    return {**member_out(p, m), "token": token}


@router.patch("/v1/members/{member}", response_model=MemberResponse)
def change_member(member: Name, body: MemberChangeRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Change a member's role and/or monthly spend limit."""
    return member_out(p, members.set_member(p, who, member, role=body.role, spend_limit=body.spend_limit,
                                            clear_limit=body.clear_limit, organisation=body.tenant))


@router.delete("/v1/members/{member}", response_model=MemberResponse)
def remove_member(member: Name, p: PlatformDep, who: PrincipalDep, tenant: Name | None = None) -> dict[str, Any]:
    """Remove a member: its tokens are revoked at once."""
    return member_out(p, members.remove_member(p, who, member, tenant))

"""Organisation member endpoints: list, add, change (role, monthly spend limit), remove.

::

    with SuanliClient(server, admin_token) as api:
        m = MemberClient(api).add("ana", "developer", spend_limit="500")
        print(m.token)  # the member's first API token: shown in this answer only
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from suanli.api.schemas.members import MemberAddedResponse, MemberResponse
from suanli.client.http import Amount, Endpoints, amount_text


def _path(member: str) -> str:
    return f"/v1/members/{quote(member, safe='')}"


class MemberClient(Endpoints):

    def members(self, *, tenant: str | None = None) -> list[MemberResponse]:
        """Your organisation's members (the operator names the organisation)."""
        return self._many(MemberResponse, "/v1/members", {"tenant": tenant})

    def add(self, name: str, role: str, *, spend_limit: Amount | None = None,
            tenant: str | None = None) -> MemberAddedResponse:
        """Add a member; the answer holds its first API token."""
        body: dict[str, Any] = {"name": name, "role": role}
        if spend_limit is not None:
            body["spend_limit"] = amount_text(spend_limit)
        if tenant is not None:
            body["tenant"] = tenant
        return self._one(MemberAddedResponse, "POST", "/v1/members", json=body)

    def change(self, member: str, *, role: str | None = None, spend_limit: Amount | None = None,
               clear_limit: bool = False, tenant: str | None = None) -> MemberResponse:
        """Change a member's role and/or monthly spend limit (``clear_limit``: no limit)."""
        body: dict[str, Any] = {}
        if role is not None:
            body["role"] = role
        if spend_limit is not None:
            body["spend_limit"] = amount_text(spend_limit)
        if clear_limit:
            body["clear_limit"] = True
        if tenant is not None:
            body["tenant"] = tenant
        return self._one(MemberResponse, "PATCH", _path(member), json=body)

    def remove(self, member: str, *, tenant: str | None = None) -> MemberResponse:
        """Remove a member: its tokens stop working at once."""
        return self._one(MemberResponse, "DELETE", _path(member), params={"tenant": tenant})

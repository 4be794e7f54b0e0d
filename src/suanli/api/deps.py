"""Request dependencies: the platform and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from suanli.domain.accounts import Principal
from suanli.service.accounts import authenticate
from suanli.service.platform import Platform


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    return authenticate(platform(request), token)


PlatformDep = Annotated[Platform, Depends(platform)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def page_args(offset: int = 0, limit: int = 50) -> tuple[int, int]:
    from suanli.errors import ValidationError

    if offset < 0 or not 1 <= limit <= 500:
        raise ValidationError("offset must be >= 0 and limit between 1 and 500", offset=offset, limit=limit)
    return offset, limit


PageDep = Annotated[tuple[int, int], Depends(page_args)]

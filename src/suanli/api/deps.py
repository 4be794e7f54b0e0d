"""Request dependencies: the platform and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from suanli.api.middleware import mark_authenticated
from suanli.api.schemas.common import MAX_OFFSET, MAX_PAGE
from suanli.domain.accounts import Principal
from suanli.service import audit_context
from suanli.service.accounts import authenticate
from suanli.service.platform import Platform


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


async def _platform(request: Request) -> Platform:
    """:func:`platform` as a dependency, ``async`` so that FastAPI runs it on the event loop: a sync
    dependency is sent to a worker thread, a hop that costs more CPU than the lookup (docs/performance.md)."""
    return platform(request)


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    who = authenticate(platform(request), token)
    mark_authenticated(request.state)  # the rate limiter's sign that this token is a real one
    audit_context.note_principal(who)  # what this request changes is recorded as theirs
    return who


PlatformDep = Annotated[Platform, Depends(_platform)]
PrincipalDep = Annotated[Principal, Depends(principal)]


async def page_args(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"items to skip: 0 to {MAX_OFFSET}")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"items per page: 1 to {MAX_PAGE}")] = 50,
) -> tuple[int, int]:
    """A page of a list: ``offset`` 0 to 10^9 and ``limit`` 1 to 500 (docs/api.md "Input rules"); anything
    else, ``offset=9223372036854775808`` included, is a 422 naming the bounds. ``async``: it does no I/O,
    so no worker-thread hop."""
    return offset, limit


PageDep = Annotated[tuple[int, int], Depends(page_args)]

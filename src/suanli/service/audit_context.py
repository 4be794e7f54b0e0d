"""Who is acting now, for the audit trail: a context variable that the API edge sets per request.

The API's ASGI middleware opens a :class:`RequestContext` for each HTTP request (client address,
method, path) with :func:`request`; authentication then names the principal in it with
:func:`note_principal`. The context is a mutable holder on purpose: FastAPI runs sync dependencies
and endpoints in worker threads with a *copy* of the context, so a variable set there would be
lost, while a change to the holder the middleware set is seen everywhere in the request.

Code that calls services directly (scripts, tests) names its actor with :func:`acting`. With no
context the actor is :data:`~suanli.domain.audit.SYSTEM` (background reconcilers, bootstrap).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from suanli.domain.accounts import Principal
from suanli.domain.audit import SYSTEM, AuditActor


@dataclass
class RequestContext:
    address: str = ""
    method: str = ""
    path: str = ""
    principal: Principal | None = None
    read_only: bool = False
    """A read (GET, HEAD): every transaction it opens is read-only (:meth:`Platform.tx
    <suanli.service.platform.Platform.tx>`), so the database refuses a write in it."""


READ_METHODS = frozenset({"GET", "HEAD"})
_current: ContextVar[RequestContext | None] = ContextVar("suanli_audit_request", default=None)


def current_actor() -> AuditActor:
    """The actor of changes made now (what the audit recorder writes)."""
    ctx = _current.get()
    if ctx is None:
        return SYSTEM
    if ctx.principal is None:
        return AuditActor(address=ctx.address, method=ctx.method, path=ctx.path)
    return AuditActor.of(ctx.principal, address=ctx.address, method=ctx.method, path=ctx.path)


@contextmanager
def request(address: str, method: str, path: str) -> Iterator[RequestContext]:
    """One request's context, for the code it runs (also in worker threads)."""
    ctx = RequestContext(address, method, path, read_only=method in READ_METHODS)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def reads_only() -> bool:
    """Whether the code running now serves a read (GET, HEAD): reads never write (docs/platform.md)."""
    ctx = _current.get()
    return ctx is not None and ctx.read_only


def note_principal(principal: Principal) -> None:
    """Authentication found who is asking: changes from now on in this request are theirs."""
    ctx = _current.get()
    if ctx is not None:
        ctx.principal = principal


@contextmanager
def system() -> Iterator[None]:
    """Changes made here are the platform's own (``system``), whoever's request triggered them: the
    moves due on a lease that a write stores first (a term over, a reservation started) are time's,
    not the writer's."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def acting(principal: Principal, *, address: str = "", method: str = "", path: str = "") -> Iterator[None]:
    """Run service calls as ``principal`` outside an HTTP request (scripts, tests)."""
    with request(address, method, path) as ctx:
        ctx.principal = principal
        yield

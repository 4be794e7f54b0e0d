"""ASGI middleware that opens the audit context of each HTTP request (client address, method,
path); authentication (``deps.principal``) then names the principal in it. Every change the
request's services make is recorded with them (:mod:`suanli.service.audit_context`).

Pure ASGI, so the context variable is set in the request's own task before the router runs; the
holder it points to is shared with the worker threads FastAPI runs sync code in. The address is the
TCP peer's (``X-Forwarded-For`` is not trusted), as for the rate limits.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from suanli.service import audit_context


class AuditContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unix"  # no client address: the server's Unix socket
        with audit_context.request(address, str(scope.get("method", "")), str(scope.get("path", ""))):
            await self.app(scope, receive, send)

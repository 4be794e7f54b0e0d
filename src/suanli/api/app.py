"""The FastAPI application: routers, error mapping, the background tick.

Errors are JSON ``{"error": {"code", "message", "details"}}`` with the status of the
:mod:`suanli.errors` class; request-shape errors (malformed JSON, wrong types) are 422 ``invalid``
with the offending fields named.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanli import __version__
from suanli.api import middleware, openai_errors, openapi
from suanli.api.agent_auth import refused_body
from suanli.api.audit_context import AuditContext
from suanli.api.routers import (
    accounts,
    agent_work,
    agents,
    audit,
    billing,
    defrag,
    deployments,
    economics,
    engine,
    fleet,
    gateway,
    inference_usage,
    invoices,
    jobs,
    leases,
    members,
    orders,
    oversub,
    overview,
    packages,
    prices,
    queue,
    reports_capacity,
    shapes,
    slices,
    tenant_money,
    token_prices,
    tokens,
    usage,
    vouchers,
    wallets,
    whatif,
)
from suanli.console import mount_console
from suanli.errors import SuanliError
from suanli.service.leadership import replica
from suanli.service.platform import DatabaseError, Platform, busy_from
from suanli.service.reconcile import background_pass
from suanli.settings import Settings

log = logging.getLogger("suanli.api")


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None,
           path: str = "") -> JSONResponse:
    """The error body, with every string shortened: no route can echo a huge input back. On the
    OpenAI-compatible gateway's paths, in the OpenAI format (:mod:`suanli.api.openai_errors`)."""
    doc = middleware.clip_error(code, message, details)
    if openai_errors.applies(path):
        status = openai_errors.status_of(status, code)
        return JSONResponse(status_code=status, content=openai_errors.openai_error(
            status, code, doc["error"]["message"], doc["error"]["details"]))
    return JSONResponse(status_code=status, content=doc)


def create_app(platform: Platform, *, tick_seconds: float | None = None) -> FastAPI:
    """Build the app around a platform. ``tick_seconds`` runs the reconcilers (lease tick, engine
    provisioning, usage, node health) in the background at that interval, on the one replica that
    leads the background work (``suanli.service.reconcile.background_pass``; docs/platform.md, "Replicas")."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if tick_seconds:
            async def loop() -> None:
                while True:
                    await asyncio.sleep(tick_seconds)
                    try:
                        await asyncio.to_thread(background_pass, platform)
                    except Exception:  # keep reconciling; the error is logged with its traceback
                        log.exception("reconcile pass failed")
            task = asyncio.create_task(loop())
        yield
        if task:
            task.cancel()
            try:  # a clean stop hands the background work over at once (a killed one: after the lease's TTL)
                await asyncio.to_thread(replica(platform).release)
            except Exception:
                log.exception("could not release the background leadership; it lapses after its TTL")

    app = FastAPI(title="suanli", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Lease and serve AI compute: fleet, offers, orders, leases, prices, invoices. "
                              "The web console is at /console.")
    app.state.platform = platform

    @app.exception_handler(SuanliError)
    async def on_suanli_error(_req: Request, exc: SuanliError) -> JSONResponse:
        out = _error(exc.status, exc.code, exc.message, exc.details, _req.url.path)
        if "retry_after_s" in exc.details:  # 503 busy: when to send it again
            out.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return out

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "invalid", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {400: "the body cannot be read as JSON (it must be UTF-8 text); send a JSON object",
                   404: f"no such endpoint: {req.method} {req.url.path} (the API is described at /openapi.json)",
                   405: f"{req.method} is not allowed on {req.url.path} (the API is described at /openapi.json)"}.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, code, message, path=req.url.path)

    @app.exception_handler(Exception)
    async def on_unexpected(req: Request, exc: Exception) -> JSONResponse:
        """A bug, not an input error: the same JSON error shape (never the exception's text, which may
        hold input or internals); the traceback goes to the server log."""
        log.error("unhandled error on %s %s", req.method, req.url.path, exc_info=exc)
        return _error(500, "internal", "internal error; the server logged it (please report it with the time)",
                      path=req.url.path)

    @app.exception_handler(DatabaseError)
    async def on_database_error(req: Request, exc: Exception) -> JSONResponse:
        """A database lock not granted within the server's bound is not a bug: 503 ``busy`` with
        ``Retry-After``; any other database error is one (as :func:`on_unexpected`)."""
        busy = busy_from(exc, platform.settings)
        if busy is None:
            return await on_unexpected(req, exc)
        log.warning("%s %s: %s", req.method, req.url.path, busy.message)
        return await on_suanli_error(req, busy)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                problems.append(f"malformed JSON ({e.get('ctx', {}).get('error', 'cannot parse')}); send a JSON object")
                continue
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            problems.append(f"{where}: {e.get('msg')}")
        await run_in_threadpool(refused_body, _req, "invalid request: " + "; ".join(problems))  # agents' only
        return _error(422, "invalid", "invalid request: " + "; ".join(problems), {"errors": problems}, _req.url.path)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Liveness, version, database, and how tenant jobs are sandboxed (``sandbox``: isolation
        ``accounts``, ``namespaces``, ``off`` (the operator's opt-out) or ``unavailable``, with details).
        ``background``: this replica's id, whether it leads the background work, and the leader's lease
        (holder, epoch, since, expires_at) as this replica last saw it (no database read)."""
        return {"status": "ok", "version": __version__, "database": platform.dialect, "sandbox": platform.sandbox,
                "background": replica(platform).status()}

    # the model gateway first: its calls are the hot path, and routes are matched in order (each route
    # passed costs ~5 µs of CPU with FastAPI's lazily included routers); the lease list next (docs/performance.md)
    for r in (gateway, leases, accounts, members, fleet, prices, orders, invoices, jobs, engine, usage, wallets,
              packages, vouchers, billing, tenant_money, tokens, audit, overview, economics, whatif,
              reports_capacity, agents, agent_work, inference_usage, deployments, token_prices, oversub, queue, slices,
              defrag, shapes):
        app.include_router(r.router)
    mount_console(app)
    app.add_middleware(AuditContext)  # innermost: the request's actor for the audit trail
    middleware.install(app, platform.settings if platform is not None else Settings())
    openapi.install(app)
    return app

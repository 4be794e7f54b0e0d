"""The FastAPI application: routers, error mapping, the background tick.

Errors are JSON ``{"error": {"code", "message", "details"}}`` with the status of the
:mod:`suanli.errors` class; request-shape errors (malformed JSON, wrong types) are 422 ``invalid``
with the offending fields named.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from suanli import __version__
from suanli.api.routers import accounts, fleet, invoices, leases, orders, prices
from suanli.errors import SuanliError
from suanli.service.leases import tick
from suanli.service.platform import Platform


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message,
                                                               "details": details or {}}})


def create_app(platform: Platform, *, tick_seconds: float | None = None) -> FastAPI:
    """Build the app around a platform. ``tick_seconds`` runs the lease tick in the background."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if tick_seconds:
            async def loop() -> None:
                while True:
                    await asyncio.sleep(tick_seconds)
                    await asyncio.to_thread(tick, platform)
            task = asyncio.create_task(loop())
        yield
        if task:
            task.cancel()

    app = FastAPI(title="suanli", version=__version__, lifespan=lifespan,
                  description="Lease and serve AI compute: fleet, offers, orders, leases, prices, invoices.")
    app.state.platform = platform

    @app.exception_handler(SuanliError)
    async def on_suanli_error(_req: Request, exc: SuanliError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                problems.append(f"malformed JSON ({e.get('ctx', {}).get('error', 'cannot parse')}); send a JSON object")
                continue
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            problems.append(f"{where}: {e.get('msg')}")
        return _error(422, "invalid", "invalid request: " + "; ".join(problems), {"errors": problems})

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "database": platform.dialect}

    for r in (accounts, fleet, prices, orders, leases, invoices):
        app.include_router(r.router)
    return app

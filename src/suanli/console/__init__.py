"""The web console: a small single-page app of our own, served by the API app at ``/console``.

The browser holds an API token (the same tokens the CLI uses, kept in ``sessionStorage``) and
calls the JSON API with it, so the console sees exactly what the API lets that token see: tenant
isolation and role checks are the API's, not re-implemented here. Every asset ships in
``console/static`` (package data); nothing is fetched from elsewhere, and the pages are served
with a Content-Security-Policy that allows only this origin.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
PATH = "/console"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _ConsoleFiles(StaticFiles):
    """Static files with the console's security headers (same-origin only, no framing)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` and send ``/`` and ``/console`` there."""

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)

    @app.get(PATH, include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)

    app.mount(PATH, _ConsoleFiles(directory=STATIC_DIR, html=True), name="console")

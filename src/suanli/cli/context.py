"""The CLI's context object: resolved config and the one seam for tests, the client factory.

Every command gets its API client from :func:`client`. Tests inject a factory that builds a
:class:`~suanli.client.SuanliClient` over an in-process ``TestClient``::

    runner.invoke(app, ["--token", tok, "offers", "--json"],
                  obj=CliContext(client_factory=lambda server, token, timeout:
                                 SuanliClient(server, token, http=test_client)))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NoReturn

import typer
from pydantic import ValidationError as PydanticValidationError

from suanli.cli import config as cfg
from suanli.cli.render import fail
from suanli.client import ApiError, ClientError, SuanliClient

ClientFactory = Callable[[str, "str | None", float], SuanliClient]


def default_factory(server: str, token: str | None, timeout: float) -> SuanliClient:
    return SuanliClient(server, token, timeout)


@dataclass
class CliContext:
    client_factory: ClientFactory = default_factory
    server: str | None = None
    """The ``--server`` flag (``None``: env, file, default)."""
    token: str | None = None
    timeout: float = 30.0
    _config: cfg.Config | None = field(default=None, repr=False)

    def config(self) -> cfg.Config:
        if self._config is None:
            try:
                self._config = cfg.resolve(self.server, self.token)
            except ValueError as e:
                fail(str(e))
        return self._config

    def client(self) -> SuanliClient:
        c = self.config()
        return self.client_factory(c.server, c.token, self.timeout)


def state(ctx: typer.Context) -> CliContext:
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    return root.obj


@contextmanager
def client(ctx: typer.Context) -> Iterator[SuanliClient]:
    """A client for this command; API errors become a printed message and exit 1."""
    api = state(ctx).client()
    try:
        with api_errors(api.server):
            yield api
    finally:
        api.close()


def invalid(e: PydanticValidationError) -> NoReturn:
    """A request the wire rules refuse before it is sent: the message the server would give (exit 1)."""
    problems = [f"{'.'.join(str(x) for x in p['loc']) or 'body'}: {p['msg']}" for p in e.errors()]
    fail("invalid request: " + "; ".join(problems))


@contextmanager
def api_errors(server: str) -> Iterator[None]:
    try:
        yield
    except PydanticValidationError as e:
        invalid(e)
    except ApiError as e:
        hint = ""
        if e.status == 401:
            hint = "give a token with --token, SUANLI_TOKEN or `suanli login` (server " + server + ")"
        fail(e.message or f"HTTP {e.status} {e.code}", hint=hint)
    except ClientError as e:
        fail(str(e))


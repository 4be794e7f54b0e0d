"""The in-process ``suanli`` runner used by the CLI tests (a helper module, not a conftest, so
that tests can import it by a unique name)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from suanli.cli.context import CliContext
from suanli.cli.main import app
from suanli.client import SuanliClient


@dataclass
class Cli:
    http: TestClient
    runner: CliRunner

    def __call__(self, *args: str, token: str | None = None) -> Result:
        """Run ``suanli [--token T] ARGS…`` against the in-process server."""
        factory = lambda server, tok, timeout: SuanliClient(server, tok, timeout, http=self.http)  # noqa: E731
        argv = (["--token", token] if token else []) + list(args)
        return self.runner.invoke(app, argv, obj=CliContext(client_factory=factory))

    def json(self, *args: str, token: str | None = None) -> Any:
        r = self(*args, "--json", token=token)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

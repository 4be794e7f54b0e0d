"""CLI fixtures: ``suanli`` run by Typer's CliRunner, its API client injected through the one seam
(:class:`suanli.cli.context.CliContext`'s ``client_factory``) as a :class:`SuanliClient` over the
real app (``TestClient``) on a real database. No mocks: every command goes through HTTP routing,
services and SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_harness import Cli
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from suanli.api.app import create_app
from suanli.domain.demo import demo_fleet
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Overrides the root ``clock``: the platform fixture runs on this hand-moved clock."""
    return FakeClock(datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No server/token from the developer's environment or home; a private config file path."""
    for var in ("SUANLI_SERVER", "SUANLI_TOKEN", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "config" / "suanli.json"
    monkeypatch.setenv("SUANLI_CONFIG", str(path))
    return path


@pytest.fixture
def http(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as tc:
        yield tc


@pytest.fixture
def cli(http: TestClient) -> Cli:
    return Cli(http, CliRunner())


@pytest.fixture
def tokens(platform: Platform, cli: Cli) -> dict[str, str]:
    """The operator's first-start token; the demo fleet and two tenants made through the CLI."""
    op = accounts.bootstrap_operator(platform)
    assert op
    toks = {"operator": op}
    imported = cli.json("fleet", "import", str(_demo_file(platform)), token=op)
    assert imported["nodes"] > 0
    for name in ("acme", "globex"):
        toks[name] = cli.json("account", "create", name, "--role", "tenant", token=op)["token"]
    return toks


def _demo_file(p: Platform) -> Path:
    import yaml

    path = p.settings.data_dir / "demo-fleet.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(demo_fleet(), allow_unicode=True), encoding="utf-8")
    return path



"""Console tests: real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real
``suanli serve --demo`` process on 127.0.0.1, on SQLite in tmp_path or on the test PostgreSQL.

Chromium missing is a failure under ``SUANLI_TEST_REQUIRE_SERVICES=1`` (scripts/test installs it),
a skip otherwise.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanli.testing.serve import ServeProcess, start_serve

REQUIRE = os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("SUANLI_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
STARTUP_DEADLINE_S = 60.0

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the [test] extras install it; without them only the browser tests are left out
    if REQUIRE:
        raise
    collect_ignore = ["test_console_tenant.py", "test_console_operator.py"]
else:
    expect.set_options(timeout=15_000)  # auto-waiting bound for a loaded 2-core machine; no fixed sleeps


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright's own base_url fixture trips a pytest 9 deprecation notice; not ours to fix
    config.addinivalue_line("filterwarnings",
                            "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium (``playwright install`` is neither needed nor possible offline)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium; scripts/test does)"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 960}, "locale": "en-US"}


@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    log: Path

    @property
    def console(self) -> str:
        return f"{self.url}/console/"

    def api(self, role_or_token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        token = self.tokens.get(role_or_token, role_or_token)
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``suanli serve --demo`` as a real process (SQLite in tmp_path unless a database URL is
    given); wait, bounded, for /health; stop every server started here by its PID."""
    started: list[ServeProcess] = []

    def start(database_url: str | None = None) -> Server:
        srv = start_serve(tmp_path / f"data-{len(started)}", database_url=database_url,
                          deadline_s=STARTUP_DEADLINE_S)
        started.append(srv)
        return Server(srv.url, srv.tokens(), srv.log)

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    """A demo server on SQLite."""
    return serve()


@pytest.fixture
def sign_in(page: Page) -> Callable[[Server, str], Page]:
    """Open the console and sign in with a token (a role of the demo or a token itself)."""

    def go(srv: Server, role_or_token: str) -> Page:
        page.goto(srv.console)
        page.get_by_label("API token").fill(srv.tokens.get(role_or_token, role_or_token))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("who")).to_be_visible()
        return page

    return go


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """Save a screenshot when SUANLI_CONSOLE_SCREENSHOTS names a directory (for looking at the pages)."""
    target = os.environ.get("SUANLI_CONSOLE_SCREENSHOTS")

    def shot(page: Page, name: str) -> None:
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)

    return shot

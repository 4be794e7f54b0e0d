"""Console tests: real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real
``suanli serve --demo`` process on 127.0.0.1, on SQLite in tmp_path or on the test PostgreSQL.

Chromium missing is a failure under ``SUANLI_TEST_REQUIRE_SERVICES=1`` (scripts/test installs it),
a skip otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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
    procs: list[subprocess.Popen[bytes]] = []

    def start(database_url: str | None = None) -> Server:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        data = tmp_path / f"data-{port}"
        log = tmp_path / f"serve-{port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
        args = [sys.executable, "-m", "suanli.cli.main", "serve", "--demo", "--host", "127.0.0.1",
                "--port", str(port), "--data-dir", str(data)]
        if database_url:
            args += ["--database-url", database_url]
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        procs.append(proc)
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"suanli serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"suanli serve not healthy within {STARTUP_DEADLINE_S}s:\n{log.read_text()}")
            time.sleep(0.1)  # polling a real process for readiness, bounded by the deadline above
        tokens = json.loads((data / "demo-tokens.json").read_text())
        return Server(url, tokens, log)

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


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

"""The HTTP edge of a real ``suanli serve --demo`` (uvicorn, real sockets): token guessing is slowed
down, an endless chunked body is cut off, headers and file modes are the server's (docs/edge.md)."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from suanli.testing.serve import clean_env, free_port, serving


def test_a_real_server_slows_guessing_cuts_endless_bodies_and_keeps_its_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data, env=clean_env(SUANLI_DRIVER="none"), deadline_s=120) as srv, \
            httpx.Client(base_url=srv.url, timeout=30) as c:
        tenant = {"Authorization": f"Bearer {srv.tokens()['tenant']}"}
        assert c.get("/v1/offers", headers=tenant).status_code == 200
        # the attack: 500 bad tokens in a row
        codes = [c.get("/v1/offers", headers={"Authorization": f"Bearer sl_guess{i}"}).status_code
                 for i in range(500)]
        assert codes.count(401) == 20 and codes.count(429) == 480
        r = c.get("/v1/offers", headers={"Authorization": "Bearer sl_more"})
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["error"]["code"] == "rate_limited"
        assert c.get("/v1/offers", headers=tenant).status_code == 200  # the tenant's own token still works

        def endless() -> Iterator[bytes]:
            for _ in range(1_000):  # 64 MB if it were all read
                yield b"x" * 65_536

        r = c.post("/v1/orders", content=endless(), headers={**tenant, "Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        health = c.get("/health")
        assert health.status_code == 200
        for h in (health, r, c.get("/console/")):
            assert h.headers["x-content-type-options"] == "nosniff" and h.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in h.headers["content-security-policy"]
        assert c.get("/docs").status_code == 404
        assert f"{srv.url}/openapi.json" in srv.log.read_text()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for f in data.iterdir():
        if f.name.startswith("suanli.db"):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


def test_a_limit_that_is_not_a_rate_stops_the_server_with_a_message(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "suanli.cli.main", "serve", "--port", str(free_port()),
                        "--data-dir", str(tmp_path / "data")],
                       env=clean_env(SUANLI_DRIVER="none", SUANLI_RATE_LIMIT_PER_TOKEN="lots", COLUMNS="300"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "rate_limit_per_token (SUANLI_RATE_LIMIT_PER_TOKEN) 'lots' is not a rate; write e.g. '600/minute'" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr

"""`suanli serve` as a real process also serves the API on <data_dir>/run/api.sock (mode 0666 in a
0711 directory, the data directory still 0700): /health and authenticated calls over it, the CLI with
SUANLI_SERVER=unix:PATH (`suanli usage training-tokens` with a lease token, as inside a job), bad
requests over it are 4xx (no client address: the edge's "unix"), and the audit names the address."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from suanli.testing.serve import clean_env, serving

pytestmark = pytest.mark.slow


def over_socket(path: Path, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url="http://suanli", transport=httpx.HTTPTransport(uds=str(path)), headers=headers,
                        timeout=30)


def test_serve_listens_on_the_unix_socket_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(SUANLI_CONFIG=str(tmp_path / "config.json"), COLUMNS="200")
    with serving(data, env=env, deadline_s=60) as srv:
        tokens = srv.tokens()
        sock = data / "run" / "api.sock"
        assert f"jobs reach the API at {sock} (in a job: /run/suanli/api.sock)" in srv.log.read_text()
        assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o666
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o711 and stat.S_IMODE(data.stat().st_mode) == 0o700
        with over_socket(sock) as anon:
            assert anon.get("/health").json()["status"] == "ok"
            r = anon.get("/v1/me")
            assert r.status_code == 401
            assert anon.post("/v1/orders", content=b"{not json", headers={"Authorization": "Bearer x"}).status_code < 500
        with over_socket(sock, tokens["tenant"]) as t:
            assert t.get("/v1/me").json()["name"] == "demo-tenant"
            order = t.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]})
            assert order.status_code == 201, order.text
            lease = order.json()["lease_id"]
            made = t.post("/v1/tokens", json={"scope": "lease", "lease": lease, "label": "trainer"})
            assert made.status_code == 201, made.text
            secret = made.json()["token"]
        # the CLI over the socket with the lease token, as a job runs it (no other arguments but the count)
        run_env = {**env, "SUANLI_SERVER": f"unix:{sock}", "SUANLI_TOKEN": secret, "SUANLI_LEASE_ID": lease,
                   "SUANLI_JOB_ID": "job_cli"}
        cli = [sys.executable, "-m", "suanli.cli.main", "usage", "training-tokens", "1200", "--id", "step-1",
               "--time", datetime.now(UTC).isoformat()]
        first = subprocess.run(cli, capture_output=True, text=True, env=run_env, timeout=60)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == f"training tokens 1200 on lease {lease}: accepted"
        again = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=run_env, timeout=60)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == {"received": 1, "accepted": 0, "duplicates": 1}
        bad = subprocess.run([*cli[:-5], "0"], capture_output=True, text=True, env=run_env, timeout=60)
        assert bad.returncode == 2 and "greater than or equal to 1" in bad.stderr  # refused before anything is sent
        with over_socket(sock, tokens["operator"]) as op:
            audit = op.get("/v1/audit", params={"limit": 200})
            assert audit.status_code == 200, audit.text
            assert "unix" in audit.text
        assert os.path.exists(sock)

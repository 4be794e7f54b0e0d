"""`suanli serve` as a real process also serves the API on <data_dir>/run/api.sock (mode 0666 in a
0711 directory, the data directory still 0700): /health and authenticated calls over it, the CLI with
SUANLI_SERVER=unix:PATH (`suanli usage training-tokens` with a lease token, as inside a job), bad
requests over it are 4xx (no client address: the edge's "unix"), and the audit names the address."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from suanli.cli.serve import unix_socket
from suanli.testing.serve import clean_env, serving

pytestmark = pytest.mark.slow


def over_socket(path: Path, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url="http://suanli", transport=httpx.HTTPTransport(uds=str(path)), headers=headers,
                        timeout=30)


IN_JOB = """
import http.client, json, os, socket
class UnixHTTP(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ["SUANLI_SERVER"][len("unix:"):])
c = UnixHTTP("suanli", timeout=30)
c.request("GET", "/v1/me", headers={"Authorization": "Bearer " + os.environ["SUANLI_TOKEN"]})
r = c.getresponse()
print(json.dumps({"status": r.status, "me": json.loads(r.read())}))
"""


def bounded(cond: Callable[[], bool], seconds: float) -> bool:
    """Wait for a condition, at most ``seconds`` (polling every 0.1 s)."""
    tick = threading.Event()
    for _ in range(int(seconds * 10)):
        if cond():
            return True
        tick.wait(0.1)
    return cond()


def test_serve_listens_on_the_unix_socket_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(SUANLI_CONFIG=str(tmp_path / "config.json"), COLUMNS="200",
                    SUANLI_BACKGROUND_INTERVAL_SECONDS="0.5", SUANLI_LEADER_TTL_SECONDS="5")
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
        # a job of the real server (sandboxed, network none, the tenant's own uid) calls the API through
        # /run/suanli/api.sock with its own token; after it ends the background pass revokes that token
        with over_socket(sock, tokens["tenant"]) as t:
            job = t.post(f"/v1/leases/{lease}/jobs", json={"command": ["python3", "-c", IN_JOB]})
            assert job.status_code == 201, job.text
            job_id = job.json()["id"]
            assert bounded(lambda: t.get(f"/v1/jobs/{job_id}").json()["state"] == "completed", 60)
            said = json.loads(t.get(f"/v1/jobs/{job_id}/logs").json()["logs"].strip().splitlines()[-1])
            assert said["status"] == 200 and said["me"]["name"] == "demo-tenant"
            mine = [x for x in t.get("/v1/tokens").json() if x["label"] == f"job {job_id}"]
            assert len(mine) == 1 and mine[0]["scope"] == "lease" and mine[0]["lease"] == lease
            assert bounded(lambda: next(x for x in t.get("/v1/tokens").json()
                                        if x["label"] == f"job {job_id}")["state"] == "revoked", 60)
        with over_socket(sock, tokens["operator"]) as op:
            audit = op.get("/v1/audit", params={"limit": 200})
            assert audit.status_code == 200, audit.text
            assert "unix" in audit.text
        assert os.path.exists(sock)


def test_a_long_socket_path_is_bound_through_its_directory(tmp_path: Path) -> None:
    """Unix socket paths are limited to 107 bytes; a data directory deeper than that still gets its socket."""
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "run" / "api.sock"
    assert len(str(deep)) > 107
    sock = unix_socket(deep)
    try:
        sock.listen()
        assert stat.S_ISSOCK(deep.stat().st_mode) and stat.S_IMODE(deep.stat().st_mode) == 0o666
        dirfd = os.open(deep.parent, os.O_PATH | os.O_DIRECTORY)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(f"/proc/self/fd/{dirfd}/api.sock")
        finally:
            os.close(dirfd)
        again = unix_socket(deep)  # a stale socket from an earlier start is replaced
        again.close()
    finally:
        sock.close()

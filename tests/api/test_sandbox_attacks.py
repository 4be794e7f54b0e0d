"""A hostile tenant's job against a real ``suanli serve --demo`` on the real local engine.

Tenant B runs a normal job that keeps a secret in its work directory and its log. Tenant A then runs
a job that tries to reach the platform and B: read the server's token file and database, write the
database, read or write B's work directory and log, signal or ptrace the server, read the server's
environment (a canary variable), reach the API over loopback, see device nodes outside its lease.
Every attempt must fail, while both jobs still see their own devices, work directory and output.
"""

from __future__ import annotations

import json
import secrets
import stat
import time
from pathlib import Path

import httpx
import pytest

from suanli.testing.serve import ServeProcess, clean_env, serving

WAIT = 60.0

ATTACK = r"""
import ctypes, json, os, signal, socket, sqlite3, sys
data, other, pid, canary, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
r = {}
def attempt(name, fn):
    try:
        fn()
        r[name] = "ALLOWED"
    except Exception as e:
        r[name] = "denied: " + type(e).__name__
def write_db():
    c = sqlite3.connect(f"file:{data}/suanli.db?mode=rw", uri=True)
    c.execute("create table pwned(x integer)")
    c.commit()
def ptrace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace attach refused")
def canary_anywhere():
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if canary in open(f"/proc/{p}/environ").read():
                    return
            except OSError:
                pass
    raise LookupError("canary in no visible process")
def foreign_devices():
    mine = set(os.environ.get("CUDA_VISIBLE_DEVICES", "").split(","))
    seen = [d for d in os.listdir("/dev") if d.startswith(("nvidia", "davinci", "cambricon", "kfd", "dri"))
            and d.removeprefix("nvidia") not in mine | {"ctl", "-uvm", "-uvm-tools", "-modeset"}]
    if not seen:
        raise LookupError("no device node outside the lease")
attempt("read_tokens", lambda: open(f"{data}/demo-tokens.json").read())
attempt("read_db", lambda: open(f"{data}/suanli.db", "rb").read(16))
attempt("write_db", write_db)
attempt("read_other_work", lambda: open(f"{other}/secret").read())
attempt("write_other_work", lambda: open(f"{other}/planted", "w").write("x"))
attempt("read_other_log", lambda: open(os.path.dirname(other) + "/stdout.log").read())
attempt("signal_server", lambda: os.kill(pid, 0))
attempt("terminate_server", lambda: os.kill(pid, signal.SIGTERM))
attempt("ptrace_server", ptrace)
attempt("server_environ", lambda: open(f"/proc/{pid}/environ").read())
attempt("canary_in_any_environ", canary_anywhere)
attempt("reach_api", lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close())
attempt("foreign_device_nodes", foreign_devices)
open("/work/mine", "w").write("ok")
r["own_work"] = open("/work/mine").read()
r["devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
print(json.dumps(r))
"""

VICTIM = ("echo b-secret > /work/secret; echo b-log-secret; echo ready; i=0; "
          "while [ ! -e /work/stop ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo stopped")


def _wait_job(c: httpx.Client, job_id: str, token: str, until: str | None = None) -> dict:  # type: ignore[type-arg]
    """Poll the job over the API (a real server: bounded by a deadline) until its logs show ``until``
    or it ends (``until=None``: until it ends)."""
    h = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + WAIT
    while True:
        job = c.get(f"/v1/jobs/{job_id}", headers=h).json()
        logs = c.get(f"/v1/jobs/{job_id}/logs", headers=h).json()["logs"]
        if (until is not None and until in logs) or job["state"] not in ("pending", "running") or time.monotonic() > deadline:
            return {"job": job, "logs": logs}
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    canary = "canary-" + secrets.token_hex(8)
    with serving(tmp_path / "data", env=clean_env(SUANLI_TEST_CANARY=canary)) as s:
        s.canary = canary  # type: ignore[attr-defined]
        yield s


def test_a_hostile_job_reaches_neither_the_platform_nor_another_tenant(server: ServeProcess) -> None:
    tokens = server.tokens()
    data = server.data_dir
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/health").json()["sandbox"]["isolation"] == "accounts"
        op = {"Authorization": f"Bearer {tokens['operator']}"}
        b_token = c.post("/v1/accounts", json={"name": "tenant-b", "role": "tenant"}, headers=op).json()["token"]
        a, b = {"Authorization": f"Bearer {tokens['tenant']}"}, {"Authorization": f"Bearer {b_token}"}
        leases = {}
        for who, h in (("a", a), ("b", b)):
            r = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=h)
            assert r.status_code == 201, r.text
            leases[who] = c.get(f"/v1/leases/{r.json()['lease_id']}", headers=h).json()

        vb = c.post(f"/v1/leases/{leases['b']['id']}/jobs", json={"command": ["sh", "-c", VICTIM]}, headers=b)
        assert vb.status_code == 201, vb.text
        victim = vb.json()
        assert "ready" in _wait_job(c, victim["id"], b_token, "ready")["logs"]
        b_work = data / "engine-local" / "jobs" / victim["driver_job_id"] / "work"

        # the victim's memory and CPU are held to its lease's share of the node
        node = next(n for n in c.get("/v1/nodes", headers=op).json() if n["name"] == leases["b"]["allocations"][0]["node"])
        group = victim["driver_job_id"]
        limit = Path(f"/sys/fs/cgroup/memory/suanli/{group}/memory.limit_in_bytes").read_text().strip()
        assert int(limit) == (node["memory_gib"] * 1024 // node["devices"]) << 20
        quota = Path(f"/sys/fs/cgroup/cpu/suanli/{group}/cpu.cfs_quota_us").read_text().strip()
        assert int(quota) == node["cpu_cores"] * 1000 // node["devices"] * 100

        port = int(server.url.rsplit(":", 1)[1])
        argv = ["python3", "-c", ATTACK, str(data), str(b_work), str(server.proc.pid), server.canary,  # type: ignore[attr-defined]
                str(port)]
        ra = c.post(f"/v1/leases/{leases['a']['id']}/jobs", json={"command": argv}, headers=a)
        assert ra.status_code == 201, ra.text
        done = _wait_job(c, ra.json()["id"], tokens["tenant"])
        assert done["job"]["state"] == "completed", done
        result = json.loads(done["logs"].strip().splitlines()[-1])
        allowed = {k: v for k, v in result.items() if v == "ALLOWED"}
        assert not allowed, f"attacks that succeeded: {allowed}"
        assert len([v for v in result.values() if str(v).startswith("denied")]) == 13
        # the attacker's own job still works: its work dir and its device
        assert result["own_work"] == "ok"
        assert result["devices"] == ",".join(str(x["device"]) for x in leases["a"]["allocations"])
        assert server.canary not in done["logs"] and tokens["operator"] not in done["logs"]  # type: ignore[attr-defined]

        # nothing was changed: the server runs, B's files are intact, the database has no new table
        assert server.proc.poll() is None and c.get("/health").status_code == 200
        assert (b_work / "secret").read_text() == "b-secret\n" and not (b_work / "planted").exists()
        (b_work / "stop").touch()
        end = _wait_job(c, victim["id"], b_token)
        assert end["job"]["state"] == "completed" and "b-log-secret" in end["logs"]
        # another tenant and a supplier cannot read B's job or its logs over the API either
        for h, refused in ((a, {404}), ({"Authorization": f"Bearer {tokens['supplier']}"}, {403, 404})):
            for path in (f"/v1/jobs/{victim['id']}", f"/v1/jobs/{victim['id']}/logs"):
                r = c.get(path, headers=h)
                assert r.status_code in refused and "b-log-secret" not in r.text and "b-secret" not in r.text

    import sqlite3
    with sqlite3.connect(data / "suanli.db") as db:
        assert not db.execute("select name from sqlite_master where name = 'pwned'").fetchall()
    # the server's own files are private
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for f in ("suanli.db", "demo-tokens.json"):
        assert stat.S_IMODE((data / f).stat().st_mode) == 0o600, f


def test_the_opt_out_is_stated_at_start_up_and_in_health(tmp_path: Path) -> None:
    with serving(tmp_path / "data", env=clean_env(SUANLI_SANDBOX="off")) as s:
        health = httpx.get(f"{s.url}/health", timeout=10).json()
        assert health["sandbox"]["isolation"] == "off" and "SUANLI_SANDBOX=off" in health["sandbox"]["detail"]
        assert "WARNING: job sandbox (off)" in s.log.read_text()


def test_the_sandbox_is_stated_at_start_up(server: ServeProcess) -> None:
    assert "job sandbox (accounts): tenant jobs run in bubblewrap" in server.log.read_text()

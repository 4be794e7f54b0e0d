"""A job reaches the API from inside its sandbox (network none) through the server's Unix socket,
with a lease token the platform made for that job: it reports training tokens for its own lease
(billed exactly under a training-token plan) and can do nothing else; the token dies with the job
and with the lease; the secret is stored nowhere. Real local engine, real bubblewrap, a real uvicorn
server on ``<data_dir>/run/api.sock`` (the one ``suanli serve`` opens, :func:`suanli.cli.serve.unix_socket`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from suanli.api.app import create_app
from suanli.cli.serve import unix_socket
from suanli.domain.accounts import Principal
from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.errors import AuthenticationError, ValidationError
from suanli.service import accounts, billing, jobs, leases, orders, plans
from suanli.service.platform import Platform, api_socket_path
from suanli.settings import Settings
from suanli.store import tokens as token_store
from suanli.store.audit import AuditEventRow as AuditRow
from suanli.store.engine_tables import JobRow
from suanli.store.tables import ApiTokenRow
from suanli.testing.clock import FakeClock

# what the job runs: stdlib only (the sandbox has /usr's python3), HTTP over the Unix socket
CLIENT = r"""
import http.client, json, os, socket, sys
class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("suanli", timeout=30)
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
server = os.environ.get("SUANLI_SERVER", "")
out = {"server": server, "token": os.environ.get("SUANLI_TOKEN"), "lease": os.environ["SUANLI_LEASE_ID"],
       "job": os.environ["SUANLI_JOB_ID"], "calls": {}}
def call(name, method, path, body=None, token=out["token"]):
    c = UnixHTTP(server[len("unix:"):])
    h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    out["calls"][name] = [r.status, json.loads(r.read() or b"null")]
"""

REPORT = CLIENT + r"""
args = json.loads(sys.argv[1])
me = None
call("me", "GET", "/v1/me")
me = out["calls"]["me"][1]["name"]
call("report", "POST", "/v1/usage/events", {"id": "step-1", "source": "lease/" + out["lease"] + "/" + out["job"],
     "type": "training_tokens", "subject": me, "time": args["time"], "data": {"quantity": args["tokens"]}})
call("again", "POST", "/v1/usage/events", {"id": "step-1", "source": "lease/" + out["lease"] + "/" + out["job"],
     "type": "training_tokens", "subject": me, "time": args["time"], "data": {"quantity": args["tokens"]}})
call("other_lease", "GET", "/v1/leases/" + args["other"])
call("lease_list", "GET", "/v1/leases")
call("make_token", "POST", "/v1/tokens", {"label": "mine", "scope": "lease", "lease": args["other"]})
call("other_jobs", "POST", "/v1/leases/" + args["other"] + "/jobs", {"command": ["true"]})
call("other_report", "POST", "/v1/usage/events", {"id": "x", "source": "lease/" + args["other"],
     "type": "training_tokens", "subject": me, "time": args["time"], "data": {"quantity": 5, "lease": args["other"]}})
try:
    out["run_dir"] = sorted(os.listdir("/run/suanli"))
except OSError as e:
    out["run_dir"] = type(e).__name__
out["data_dir_seen"] = os.path.exists(args["data_dir"])
out["host_socket_seen"] = os.path.exists(args["host_socket"])
print(json.dumps(out))
"""

WAIT = CLIENT + r"""
import pathlib, time
while not pathlib.Path("/work/go").exists(): time.sleep(0.01)
call("me", "GET", "/v1/me")
print(json.dumps(out))
"""


@pytest.fixture
def api(demo: Platform) -> Iterator[Platform]:
    """The API served on the platform's Unix socket, as `suanli serve` does, in a thread."""
    sock = unix_socket(api_socket_path(demo.settings))
    server = uvicorn.Server(uvicorn.Config(create_app(demo), log_level="warning"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    try:
        assert _bounded(lambda: server.started, 30), "the API did not start on its socket"
        yield demo
    finally:
        server.should_exit = True
        t.join(30)
        sock.close()


def _bounded(cond: Any, seconds: float) -> bool:
    done = threading.Event()
    for _ in range(int(seconds * 100)):
        if cond():
            return True
        done.wait(0.01)
    return bool(cond())


def local(p: Platform) -> LocalDriver:
    assert isinstance(p.driver, LocalDriver)
    return p.driver


def lease_of(p: Platform, tenant: Principal) -> tuple[str, str]:
    res = orders.create_order(p, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert res.order.lease_id
    return res.order.id, res.order.lease_id


def output(p: Platform, tenant: Principal, job_id: str) -> dict[str, Any]:
    logs = jobs.job_logs(p, tenant, job_id).strip().splitlines()
    assert logs, "the job printed nothing"
    return dict(json.loads(logs[-1]))


def test_a_sandboxed_job_reports_training_tokens_through_the_socket_and_nothing_else(
        api: Platform, tenant: Principal, operator: Principal, clock: FakeClock) -> None:
    p = api
    order_a, lease_a = lease_of(p, tenant)
    _order_b, lease_b = lease_of(p, tenant)
    plan = plans.create_plan(p, operator, {"tenant": "acme", "kind": "payg", "order": order_a, "training": True,
                                           "rates": [{"meter": "training_tokens", "price": "3"}]})
    assert local(p).sandbox.status.network.value == "none"
    clock.advance(hours=1)
    args = {"tokens": 2_500_000, "time": clock.now().isoformat(), "other": lease_b,
            "data_dir": str(p.settings.data_dir), "host_socket": str(api_socket_path(p.settings))}
    job = jobs.submit_job(p, tenant, lease_a, ["python3", "-c", REPORT, json.dumps(args)], time_limit_s=600,
                          env={"SUANLI_TOKEN": "the tenant's own", "SUANLI_SERVER": "http://elsewhere"})
    st = local(p).wait(job.driver_job_id, 60)
    assert st.state is JobState.COMPLETED, (st, jobs.job_logs(p, tenant, job.id))
    out = output(p, tenant, job.id)
    # the platform's values win over the tenant's env of the same names
    assert out["server"] == "unix:/run/suanli/api.sock" and out["token"].startswith("sl_")
    calls = out["calls"]
    assert calls["me"][0] == 200 and calls["me"][1]["name"] == "acme"
    assert calls["report"][0] == 202 and calls["report"][1]["accepted"] == 1, calls["report"]
    assert calls["again"][1]["duplicates"] == 1
    # the job's token reaches its own lease only and makes nothing
    assert calls["other_lease"][0] == 404
    assert calls["lease_list"][0] == 200, calls["lease_list"]  # the tenant's leases: its own one only
    assert [x["id"] for x in calls["lease_list"][1]["items"]] == [lease_a]
    assert calls["make_token"][0] == 403, calls["make_token"]
    assert calls["other_jobs"][0] == 404, calls["other_jobs"]
    assert calls["other_report"][0] == 404, calls["other_report"]
    # the socket's directory: connect by name, list nothing; the server's data dir and its socket path unseen
    assert out["run_dir"] == "PermissionError" or out["run_dir"] == ["api.sock"]
    assert out["data_dir_seen"] is False and out["host_socket_seen"] is False
    secret = out["token"]
    # the secret is stored nowhere: the job row (its command), the audit trail; the token row has its label
    with p.read() as s:
        token = s.execute(select(ApiTokenRow).where(ApiTokenRow.job_id == job.id)).scalar_one()
        assert (token.scope, token.lease_id, token.revoked_at) == ("lease", lease_a, None)
        assert token.expires_at is not None
        rows = [repr(r.__dict__) for r in s.execute(select(JobRow)).scalars()]
        rows += [repr(r.__dict__) for r in s.execute(select(AuditRow)).scalars()]
    assert rows and not [r for r in rows if secret in r or secret[10:30] in r]
    # the job ended: the background pass revokes its token (once; again changes nothing)
    jobs.record_job_states(p)
    assert jobs.revoke_job_tokens(p) == 0
    with pytest.raises(AuthenticationError, match="revoked"):
        accounts.authenticate(p, secret)
    # billed: exactly the job's tokens at the plan's rate (2.5 M x 3 = 7.50), device time of lease A at 0
    draft = billing.preview(p, operator, clock.now().strftime("%Y-%m"), "acme")
    mine = sorted((x.meter, x.quantity, x.unit_price, x.amount) for x in draft.rated.lines
                  if x.lease == lease_a and x.plan == plan["id"])
    assert mine == [("device_seconds", Decimal(1), Decimal(0), Decimal("0.00")),
                    ("training_tokens", Decimal("2.5"), Decimal(3), Decimal("7.50"))]


def test_the_token_dies_with_the_lease_and_is_refused_over_the_socket(
        api: Platform, tenant: Principal, clock: FakeClock) -> None:
    p = api
    _order, lease = lease_of(p, tenant)
    job = jobs.submit_job(p, tenant, lease, ["python3", "-c", WAIT])
    with p.read() as s:
        token = s.execute(select(ApiTokenRow).where(ApiTokenRow.job_id == job.id)).scalar_one()
    assert token.expires_at == leases.get_lease(p, tenant, lease)[0].end  # no time limit: the lease's end
    leases.end_lease(p, tenant, lease)
    assert jobs.revoke_job_tokens(p) == 1  # the lease ended: its job's token goes (before the job is seen ending)
    (local(p).work_dir(job.driver_job_id) / "go").touch()
    local(p).wait(job.driver_job_id, 60)
    out = output(p, tenant, job.id)
    assert out["calls"]["me"][0] == 401 and "revoked" in out["calls"]["me"][1]["error"]["message"]


def test_a_token_the_tenant_labels_like_a_job_token_is_not_revoked_with_the_job(
        api: Platform, tenant: Principal) -> None:
    """The platform knows its job tokens by ``job_id``, not by their label: a tenant's own token named
    ``job <id>`` survives the end of that job's lease."""
    p = api
    _order, lease = lease_of(p, tenant)
    job = jobs.submit_job(p, tenant, lease, ["python3", "-c", "pass"])
    with p.tx() as s:
        mine, _secret = token_store.issue(s, tenant.account_id, p.clock.now(), label=f"job {job.id}")
    leases.end_lease(p, tenant, lease)
    assert jobs.revoke_job_tokens(p) == 1  # the job's own token, not the look-alike
    with p.read() as s:
        rows = {r.id: r for r in s.execute(select(ApiTokenRow).where(ApiTokenRow.label == f"job {job.id}")).scalars()}
    assert rows[mine.id].revoked_at is None and rows[mine.id].job_id is None
    assert [r.revoked_at is not None for i, r in rows.items() if i != mine.id] == [True]


def test_a_job_without_the_socket_still_runs_and_gets_no_token(demo: Platform, tenant: Principal) -> None:
    local(demo).sandbox.api_socket = None
    _order, lease = lease_of(demo, tenant)
    job = jobs.submit_job(demo, tenant, lease, ["python3", "-c", "import os, json; print(json.dumps("
                                                "[os.environ.get('SUANLI_TOKEN'), os.path.exists('/run/suanli')]))"])
    assert local(demo).wait(job.driver_job_id, 60).state is JobState.COMPLETED
    assert json.loads(jobs.job_logs(demo, tenant, job.id).strip().splitlines()[-1]) == [None, False]
    with demo.read() as s:
        assert s.execute(select(ApiTokenRow).where(ApiTokenRow.label == f"job {job.id}")).first() is None


def test_a_runtime_job_gets_no_token(demo: Platform, tenant: Principal) -> None:
    _order, lease = lease_of(demo, tenant)
    job = jobs.submit_job(demo, tenant, lease, ["python3", "-c", "import os; print(os.environ.get('SUANLI_TOKEN'))"],
                          runtime=True)
    local(demo).wait(job.driver_job_id, 60)
    assert jobs.job_logs(demo, tenant, job.id).strip().splitlines()[-1] == "None"
    with demo.read() as s:
        assert s.execute(select(ApiTokenRow).where(ApiTokenRow.label == f"job {job.id}")).first() is None


def test_bad_tokens_over_the_socket_lock_no_other_job_out(api: Platform, operator: Principal, tenant: Principal) -> None:
    """Every job shares the address "unix": the failed-authentication lockout (20/minute per address)
    does not apply there, or one job sending bad tokens would lock every other tenant's new job out."""
    sock = str(api_socket_path(api.settings))
    with httpx.Client(base_url="http://suanli", transport=httpx.HTTPTransport(uds=sock), timeout=30) as c:
        for i in range(25):
            r = c.get("/v1/me", headers={"Authorization": f"Bearer sl_guess{i}"})
            assert r.status_code == 401, (i, r.text)
        fresh = accounts.issue_token(api, operator, "acme")  # a token this server never saw
        r = c.get("/v1/me", headers={"Authorization": f"Bearer {fresh}"})
        assert r.status_code == 200 and r.json()["name"] == "acme"
        assert c.post("/v1/usage/events", content=b"{", headers={"Authorization": f"Bearer {fresh}"}).status_code < 500


def test_a_job_refused_by_the_engine_leaves_no_live_token(api: Platform, tenant: Principal) -> None:
    _order, lease = lease_of(api, tenant)
    with pytest.raises(ValidationError, match="not found"):
        jobs.submit_job(api, tenant, lease, ["/usr/bin/no-such-program"])
    with api.read() as s:
        made = s.execute(select(ApiTokenRow).where(ApiTokenRow.label.like("job job_%"))).scalars().all()
        assert [t.revoked_at is not None for t in made] == [True]  # made for the job, revoked when it was refused
        assert s.execute(select(JobRow)).first() is None


def test_where_a_job_finds_the_api(platform: Platform, tmp_path: Path) -> None:
    assert platform.job_api_server(set()) == "unix:/run/suanli/api.sock"  # inside the sandbox
    off = Platform(Settings(data_dir=tmp_path / "off", sandbox="off"), clock=FakeClock())
    try:  # no sandbox: a plain process sees the host's path
        assert off.job_api_server(set()) == f"unix:{tmp_path / 'off' / 'run' / 'api.sock'}"
    finally:
        off.close()
    none = Platform(Settings(data_dir=tmp_path / "none", driver="none"), clock=FakeClock())
    try:  # no local engine: no socket, no token
        assert none.job_api_server(set()) is None
    finally:
        none.close()

"""The agents' work over HTTP (wire routes 3 and 4; SQLite and PostgreSQL): a tenant's lease and job on
an agent node reach that node's work list, the agent's reports come back as the job's state, logs
and usage; the node credential of the path's node only; bad reports refused with the field named,
audited, nothing stored; GET work writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

NODES = ("sh-a800-01", "sh-a800-02")


class Net:
    def __init__(self, c: TestClient, op: dict[str, str], tenant: dict[str, str], creds: dict[str, dict[str, str]]):
        self.c, self.op, self.tenant, self.creds = c, op, tenant, creds


@pytest.fixture
def net(demo: Platform, operator: Principal, tenant: Principal) -> Iterator[Net]:
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    who = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, tenant.name)}"}
    with TestClient(create_app(demo)) as c:
        creds = {}
        for node in NODES:
            r = c.post("/v1/agents/join-tokens", json={"node": node, "approve": True}, headers=op)
            assert r.status_code == 201, r.text
            r = c.post("/v1/agents/join", json={
                "token": r.json()["token"], "node": node, "agent_id": f"install-{node}", "boot_id": "boot-1",
                "backend": "none", "devices": [{"index": i, "name": "A800", "uuid": f"{node}-{i}"} for i in range(8)]})
            assert r.status_code == 201 and r.json()["state"] == "approved", r.text
            creds[node] = {"Authorization": f"Bearer {r.json()['credential']}"}
        net = Net(c, op, who, creds)
        for node in NODES:
            assert beat(net, node)["state"] == "approved"
        yield net


def beat(n: Net, node: str) -> Any:
    r = n.c.post(f"/v1/agents/{node}/heartbeat", json={"boot_id": "boot-1", "rtt_ms": "2.5", "devices": []},
                 headers=n.creds[node])
    assert r.status_code == 200, r.text
    return r.json()


def lease_and_job(n: Net) -> tuple[str, str, dict[str, Any]]:
    r = n.c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["A800"]}, headers=n.tenant)
    assert r.status_code == 201, r.text
    lease_id = r.json()["lease_id"]
    r = n.c.post(f"/v1/leases/{lease_id}/jobs", json={"command": ["python3", "train.py"], "devices": 2},
                 headers=n.tenant)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["driver_job_id"].startswith("agj_") and job["node"] in NODES
    return lease_id, job["node"], job


def test_work_and_reports_round_trip(net: Net, clock: FakeClock) -> None:
    lease_id, node, job = lease_and_job(net)
    agent_job = job["driver_job_id"]
    r = net.c.get(f"/v1/agents/{node}/work", headers=net.creds[node])
    assert r.status_code == 200, r.text
    w = r.json()
    assert [x["lease_id"] for x in w["leases"]] == [lease_id]
    assert [(j["job_id"], j["cancel"], j["spec"]["command"]) for j in w["jobs"]] == [
        (agent_job, False, ["python3", "train.py"])]
    assert beat(net, node)["work"] == w["generation"] != 0
    other = next(x for x in NODES if x != node)
    assert net.c.get(f"/v1/agents/{other}/work", headers=net.creds[other]).json() == {
        "generation": 0, "leases": [], "jobs": []}

    start = clock.now().isoformat()
    clock.advance(60)
    end = clock.now().isoformat()
    report = {"jobs": [{"job_id": agent_job, "state": "completed", "start": start, "end": end, "exit_code": 0,
                        "device_indices": [0, 1]}],
              "usage": [{"job_id": agent_job, "lease_id": lease_id, "device_indices": [0, 1], "devices": 2,
                         "start": start, "end": end, "state": "completed", "exit_code": 0, "device_seconds": "120"}],
              "logs": [{"job_id": agent_job, "stdout": "loss 0.1\n", "stderr": ""}]}
    r = net.c.post(f"/v1/agents/{node}/reports", json=report, headers=net.creds[node])
    assert r.status_code == 200 and r.json() == {"jobs": 1, "usage_new": 1}, r.text
    r = net.c.post(f"/v1/agents/{node}/reports", json=report, headers=net.creds[node])  # the answer was lost
    assert r.status_code == 200 and r.json() == {"jobs": 0, "usage_new": 0}, r.text
    shown = net.c.get(f"/v1/jobs/{job['id']}", headers=net.tenant).json()
    assert shown["state"] == "completed" and shown["exit_code"] == 0
    assert net.c.get(f"/v1/jobs/{job['id']}/logs", headers=net.tenant).json()["logs"] == "loss 0.1\n"
    assert net.c.get(f"/v1/agents/{node}/work", headers=net.creds[node]).json()["jobs"] == []


def test_only_the_nodes_own_credential_and_nothing_else(net: Net) -> None:
    _, node, _ = lease_and_job(net)
    other = next(x for x in NODES if x != node)
    for path, body in ((f"/v1/agents/{node}/work", None), (f"/v1/agents/{node}/reports", {"jobs": []})):
        call = net.c.get if body is None else net.c.post
        kw = {} if body is None else {"json": body}
        assert call(path, **kw).status_code == 401  # type: ignore[operator]
        assert call(path, headers=net.op, **kw).status_code == 401  # type: ignore[operator]
        assert call(path, headers=net.tenant, **kw).status_code == 401  # type: ignore[operator]
        r = call(path, headers=net.creds[other], **kw)  # type: ignore[operator]
        assert r.status_code == 403 and f"credential of node {other} cannot act for node {node}" in r.text


def test_bad_reports_are_refused_naming_the_field_and_store_nothing(net: Net, clock: FakeClock) -> None:
    lease_id, node, job = lease_and_job(net)
    agent_job, me = job["driver_job_id"], net.creds[node]
    other = next(x for x in NODES if x != node)
    now = clock.now().isoformat()
    running = {"job_id": agent_job, "state": "running", "start": now}
    # a job the node does not hold: 404 naming it, audited; the running state in the same report is not stored
    r = net.c.post(f"/v1/agents/{node}/reports", json={"jobs": [running, {**running, "job_id": "agj_0123456789ab"}]},
                   headers=me)
    assert r.status_code == 404 and "holds no job 'agj_0123456789ab'" in r.text, r.text
    r = net.c.post(f"/v1/agents/{other}/reports", json={"jobs": [running]}, headers=net.creds[other])
    assert r.status_code == 404 and f"node {other} holds no job '{agent_job}'" in r.text, r.text
    assert net.c.get(f"/v1/jobs/{job['id']}", headers=net.tenant).json()["state"] == "pending"
    usage = {"job_id": agent_job, "lease_id": lease_id, "devices": 2, "start": now, "end": now, "state": "completed",
             "device_seconds": "0"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"jobs": [{**running, "state": "exploded"}]}, "jobs.0.state"),
        ({"jobs": [{**running, "start": "2026-01-01T00:00:00"}]}, "jobs.0.start"),
        ({"jobs": [{**running, "exit_code": 1e9}]}, "jobs.0.exit_code"),
        ({"usage": [{**usage, "device_seconds": 1.5}]}, "usage.0.device_seconds"),
        ({"usage": [{**usage, "device_seconds": "NaN"}]}, "usage.0.device_seconds"),
        ({"usage": [{**usage, "device_seconds": "1"}]}, "usage of job"),  # 0 s elapsed: at most 0
        ({"usage": [{**usage, "state": "running"}]}, "usage.0.state"),
        ({"usage": [{**usage, "lease_id": "ls_other"}]}, "is not the job's lease"),
        ({"logs": [{"job_id": agent_job, "stdout": "x" * 65537}]}, "logs.0.stdout"),
        ({"jobs": [running], "extra": 1}, "extra"),
        ({"jobs": "all"}, "jobs"),
    ]
    for body, named in bad:
        r = net.c.post(f"/v1/agents/{node}/reports", json=body, headers=me)
        assert r.status_code == 422 and named in r.text, (body, r.status_code, r.text)
    assert net.c.get(f"/v1/jobs/{job['id']}", headers=net.tenant).json()["state"] == "pending"
    r = net.c.get("/v1/audit", params={"object_type": "agent_refusals", "limit": 100}, headers=net.op)
    assert r.status_code == 200, r.text
    text = r.text
    assert "holds no job" in text and "device-seconds is impossible" in text


def test_get_work_writes_nothing(net: Net, clock: FakeClock) -> None:
    _, node, _ = lease_and_job(net)
    seen = net.c.get(f"/v1/agents/{node}", headers=net.op).json()["last_seen_at"]
    clock.advance(7)
    assert net.c.get(f"/v1/agents/{node}/work", headers=net.creds[node]).status_code == 200
    assert net.c.get(f"/v1/agents/{node}", headers=net.op).json()["last_seen_at"] == seen
    clock.advance(1)
    assert net.c.post(f"/v1/agents/{node}/reports", json={}, headers=net.creds[node]).status_code == 200
    assert net.c.get(f"/v1/agents/{node}", headers=net.op).json()["last_seen_at"] != seen  # a report is a sign of life

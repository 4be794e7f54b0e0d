"""Jobs, lease usage, metrics and the reconcile pass over HTTP (local driver, real processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.drivers.local import LocalDriver
from suanli.service import accounts
from suanli.service.platform import Platform


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    with TestClient(create_app(demo)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        yield c, op, {"Authorization": f"Bearer {r.json()['token']}"}


def test_job_on_a_lease_over_http(http: tuple[TestClient, dict[str, str], dict[str, str]], demo: Platform) -> None:
    c, op, t = http
    lease_id = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["A800"]}, headers=t).json()["lease_id"]
    lease = c.get(f"/v1/leases/{lease_id}", headers=t).json()
    r = c.post(f"/v1/leases/{lease_id}/jobs", headers=t, json={
        "command": ["python3", "-c", "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"]})
    assert r.status_code == 201, r.text
    job = r.json()
    assert isinstance(demo.driver, LocalDriver)
    demo.driver.wait(job["driver_job_id"], 30)
    shown = c.get(f"/v1/jobs/{job['id']}", headers=t).json()
    assert shown["state"] == "completed" and shown["exit_code"] == 0
    logs = c.get(f"/v1/jobs/{job['id']}/logs", headers=t).json()["logs"]
    assert logs.strip().splitlines()[-1] == ",".join(str(a["device"]) for a in lease["allocations"])
    assert [j["id"] for j in c.get("/v1/jobs", params={"lease_id": lease_id}, headers=t).json()["items"]] == [job["id"]]
    usage = c.get(f"/v1/leases/{lease_id}/usage", headers=t).json()
    assert usage["jobs"] == 1 and usage["finished_jobs"] == 0  # a read collects nothing (reads never write)
    assert c.post("/v1/engine/reconcile", headers=op).status_code == 200  # the background pass collects usage
    usage = c.get(f"/v1/leases/{lease_id}/usage", headers=t).json()
    assert usage["jobs"] == 1 and usage["finished_jobs"] == 1 and usage["sla_credits"] == []
    # refusals name the lease and what is allowed
    r = c.post(f"/v1/leases/{lease_id}/jobs", headers=t, json={"command": ["true"], "devices": 5})
    assert r.status_code == 422 and lease_id in r.json()["error"]["message"]
    other = c.post("/v1/accounts", json={"name": "beta", "role": "tenant"}, headers=op).json()["token"]
    r = c.post(f"/v1/leases/{lease_id}/jobs", headers={"Authorization": f"Bearer {other}"}, json={"command": ["true"]})
    assert r.status_code == 404
    c.post(f"/v1/leases/{lease_id}/end", headers=t)
    r = c.post(f"/v1/leases/{lease_id}/jobs", headers=t, json={"command": ["true"]})
    assert r.status_code == 409 and "jobs run only on an active lease" in r.json()["error"]["message"]
    passed = c.post("/v1/engine/reconcile", headers=op).json()
    assert {"lease_id": lease_id, "verb": "release", "outcome": "done"} in passed["engine_actions"]


def test_metrics_are_prometheus_text_for_the_operator(http: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    c, op, t = http
    c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["H800"]}, headers=t)
    r = c.get("/metrics", headers=op)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'suanli_devices{model="H800",site="sh-east-1"} 32.0' in text
    assert 'suanli_devices_allocated{model="H800",site="sh-east-1"} 2.0' in text
    assert 'suanli_leases{state="active"} 1.0' in text
    assert "suanli_telemetry_backend{" in text  # no GPU here: the null backend says why, no invented numbers
    assert "suanli_device_power_watts{" not in text
    assert c.get("/metrics", headers=t).status_code == 403


def test_unknown_routes_answer_in_the_error_format(http: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    c, _, t = http
    r = c.get("/v1/nope", headers=t)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = c.delete("/v1/offers", headers=t)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_bad_jobs_are_4xx_and_write_nothing(http: tuple[TestClient, dict[str, str], dict[str, str]],
                                            demo: Platform) -> None:
    c, _op, t = http
    lease_id = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["A800"]}, headers=t).json()["lease_id"]
    assert isinstance(demo.driver, LocalDriver)
    jobs_dir = demo.driver.data_dir / "jobs"
    before = sorted(jobs_dir.iterdir())
    bad = [({"command": ["echo", "a\u0000b"]}, "NUL"),
           ({"command": ["echo"], "env": {"X": "\u0000"}}, "NUL"),
           ({"command": ["echo"], "time_limit_s": 1e20}, "time_limit_s"),
           ({"command": ["echo"], "time_limit_s": 0}, "time_limit_s"),
           ({"command": ["/no/such/program"]}, "not found in the job sandbox"),
           ({"command": ["./train.py"]}, "relative path"),
           ({"command": []}, "command"),
           ({"command": ["echo"], "devices": -1}, "devices"),
           ({"command": ["echo", "x" * 200_000]}, "too long")]
    for body, says in bad:
        r = c.post(f"/v1/leases/{lease_id}/jobs", headers=t, json=body)
        assert r.status_code == 422, (body, r.text)
        assert says in r.json()["error"]["message"], (body, r.text)
    assert c.get("/v1/jobs", params={"lease_id": lease_id}, headers=t).json()["items"] == []
    assert sorted(jobs_dir.iterdir()) == before

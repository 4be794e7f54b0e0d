"""`suanli job …` and a node taken down by hand, as a tenant and an operator would (local driver)."""

from __future__ import annotations

import json

from cli_harness import Cli

from suanli.drivers.local import LocalDriver
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


def test_rent_run_see_usage_take_node_down(cli: Cli, tokens: dict[str, str], platform: Platform,
                                           clock: FakeClock) -> None:
    t, op = tokens["acme"], tokens["operator"]
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "2", "--model", "H800", token=t)
    lease = order["lease"]
    r = cli("job", "submit", "--lease", lease["id"], "--json", "--", "python3", "-c",
            "import os; print('CVD=' + os.environ['CUDA_VISIBLE_DEVICES'])", token=t)
    assert r.exit_code == 0, r.output
    job = json.loads(r.stdout)
    assert isinstance(platform.driver, LocalDriver)
    platform.driver.wait(job["driver_job_id"], 30)
    logs = cli("job", "logs", job["id"], token=t)
    assert logs.exit_code == 0
    assert f"CVD={','.join(str(a['device']) for a in lease['allocations'])}" in logs.stdout
    listed = cli("job", "list", token=t)
    assert listed.exit_code == 0 and job["id"] in listed.stdout and "completed" in listed.stdout
    usage = cli.json("job", "usage", "--lease", lease["id"], token=t)
    assert usage["jobs"] == 1 and usage["finished_jobs"] == 0  # reads never write: the background pass collects
    cli.http.post("/v1/engine/reconcile", headers={"Authorization": f"Bearer {op}"}).raise_for_status()
    usage = cli.json("job", "usage", "--lease", lease["id"], token=t)
    assert usage["jobs"] == 1 and usage["finished_jobs"] == 1
    # another tenant cannot run work on the lease
    r = cli("job", "submit", "--lease", lease["id"], "--", "true", token=tokens["globex"])
    assert r.exit_code == 1 and "no lease" in r.output
    # ten minutes later the operator takes the node down; the next reconcile pass moves the lease
    clock.advance(600)
    node = lease["allocations"][0]["node"]
    assert cli("node", "state", node, "down", "--reason", "fan failure", token=op).exit_code == 0
    cli.http.post("/v1/engine/reconcile", headers={"Authorization": f"Bearer {op}"}).raise_for_status()
    moved = cli.json("lease", "show", lease["id"], token=t)
    assert moved["state"] == "active"
    current = [a for a in moved["allocations"] if a["end"] is None]
    assert len(current) == 2 and node not in {a["node"] for a in current}
    interrupted_at = moved["events"][-2]["at"]  # the old devices were given up at the interruption
    assert [a["end"] for a in moved["allocations"] if a["node"] == node] == [interrupted_at] * 2
    interrupted = [e for e in moved["events"] if e["to_state"] == "interrupted"]
    assert interrupted and "fan failure" in interrupted[-1]["reason"]
    credits = cli.json("job", "usage", "--lease", lease["id"], token=t)["sla_credits"]
    assert len(credits) == 1 and credits[0]["end"] is not None


def test_import_engine_needs_an_engine_that_lists_nodes(cli: Cli, tokens: dict[str, str]) -> None:
    r = cli("fleet", "import-engine", "--site", "sh-east-1", "--supplier", "huadong-idc", token=tokens["operator"])
    assert r.exit_code == 1 and "engine 'local' cannot list its nodes" in r.output

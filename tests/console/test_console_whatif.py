"""The what-if page in Chromium (#/whatif, operator): a refused field shows its reason next to it, a run
shows its progress and ends in a table and a chart whose figures equal GET /v1/whatif/{id} and the CLI's
JSON; the page in Chinese; no horizontal scroll at 1024 px; a tenant cannot open it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from suanli.testing.serve import clean_env, start_serve

FIGURES = ("allocation_pct", "lease_rate_pct", "device_hours", "revenue", "supplier_share", "commission",
           "energy_cost", "margin", "orders", "rejected", "available_devices")


def test_whatif_page_figures_equal_the_api(server: Any, sign_in: Callable[..., Page],
                                           shots: Callable[[Page, str], None]) -> None:
    for body in ({"form": "gpu", "quantity": 2, "models": ["L20"], "hours": 3},
                 {"form": "gpu", "quantity": 4, "models": ["H800"], "hours": 5},
                 {"form": "gpu", "quantity": 1, "models": ["RTX-4090"]}):
        r = server.api("tenant", "POST", "/v1/orders", json=body)
        assert r.status_code == 201, r.text
    page = sign_in(server, "operator")
    page.set_viewport_size({"width": 1024, "height": 900})
    page.goto(f"{server.console}#/whatif")
    expect(page.get_by_test_id("whatif-page")).to_be_visible()

    # a refused field: the server's reason next to it, nothing started
    page.locator("#wi-growth").fill("0")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("field-error-growth")).to_contain_text("growth must be > 0")
    page.locator("#wi-add_nodes").fill("H800:1@mars-1")
    page.locator("#wi-growth").fill("1")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("field-error-add_nodes")).to_contain_text("sh-east-1")
    assert server.api("operator", "GET", "/v1/whatif").json() == []

    page.locator("#wi-add_nodes").fill("H800:1@sh-east-1")
    page.locator("#wi-price_change_pct").fill("10")
    page.locator("#wi-days").fill("1")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("whatif-result")).to_be_visible(timeout=60_000)
    run_id = page.evaluate("location.hash").rsplit("/", 1)[-1]
    api = server.api("operator", "GET", f"/v1/whatif/{run_id}").json()
    assert api["state"] == "done"
    res = api["result"]
    for key in FIGURES:
        for col, src in (("baseline", res["baseline"]), ("changed", res["changed"])):
            cell = page.get_by_test_id(f"whatif-{key}-{col}")
            assert cell.get_attribute("data-value") == str(src[key]), (key, col)
    assert page.get_by_test_id("whatif-revenue-today").get_attribute("data-value") == res["actual"]["revenue_at_list"]
    chart = json.loads(page.get_by_test_id("whatif-chart").get_attribute("data-chart") or "{}")
    assert chart["series"]["baseline"] == [res["baseline"][k] for k in ("revenue", "supplier_share", "energy_cost",
                                                                         "margin")]
    assert chart["series"]["changed"][0] == res["changed"]["revenue"]
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shots(page, "whatif-en")
    expect(page.get_by_test_id(f"whatif-run-{run_id}")).to_be_visible()

    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_role("heading", name="基于现网的假设分析")).to_be_visible()
    expect(page.get_by_test_id("whatif-row-lease_rate_pct")).to_contain_text("出租率")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shots(page, "whatif-zh-CN")
    page.get_by_test_id("lang-en").click()


def test_a_tenant_cannot_open_the_whatif_page(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "tenant")
    page.goto(f"{server.console}#/whatif")
    expect(page.get_by_test_id("forbidden")).to_be_visible()


@pytest.fixture
def trace_server(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """A demo server whose SUANLI_TRACE_DIR is an empty folder here (the test writes the pod list in it)."""
    traces = tmp_path / "traces"
    (traces / "csv").mkdir(parents=True)
    srv = start_serve(tmp_path / "data", env=clean_env(SUANLI_TRACE_DIR=str(traces)))
    tokens = srv.tokens()

    def api(role: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, srv.url + path, headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30,
                             **kw)

    try:
        yield SimpleNamespace(console=f"{srv.url}/console/", tokens=tokens, api=api, traces=traces)
    finally:
        srv.stop()


def test_demand_from_the_openb_trace(trace_server: Any, sign_in: Callable[..., Page]) -> None:
    """The form's 'Demand from' asks for the openb trace: with no pod list on the server the refusal names
    trace next to the field; with one, the run replays it (its params say trace openb)."""
    server = trace_server
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/whatif")
    page.locator("#wi-trace").select_option("openb")
    page.locator("#wi-days").fill("1")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("field-error-trace")).to_contain_text("SUANLI_TRACE_DIR")
    assert server.api("operator", "GET", "/v1/whatif").json() == []
    # 20 one-GPU pods of an hour in the trace's last day: the server reads the pod list when a run starts
    rows = [f"p{i},1000,1,1000,{86400 * 9 + i * 3600},{86400 * 9 + i * 3600 + 3600}" for i in range(20)]
    rows.append("cpu,4000,0,0,864000,867600")  # a CPU-only pod (left out) at day 10: the window is day 9 to 10
    (server.traces / "csv" / "openb_pod_list_default.csv").write_text(
        "name,cpu_milli,num_gpu,gpu_milli,creation_time,deletion_time\n" + "\n".join(rows) + "\n")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("whatif-result")).to_be_visible(timeout=60_000)
    run_id = page.evaluate("location.hash").rsplit("/", 1)[-1]
    run = server.api("operator", "GET", f"/v1/whatif/{run_id}").json()
    assert run["state"] == "done" and run["params"]["trace"] == "openb", run
    assert run["result"]["baseline"]["orders"] == 20  # the trace's pods, not the fleet's own orders (none)
    assert Decimal(run["result"]["baseline"]["device_hours"]) > 0
    expect(page.get_by_test_id(f"whatif-run-{run_id}")).to_contain_text("trace openb")
    # the recent orders again: no trace in the request
    page.locator("#wi-trace").select_option("")
    page.get_by_test_id("whatif-run").click()
    page.wait_for_function("(id) => !location.hash.endsWith(id)", arg=run_id)
    expect(page.get_by_test_id("whatif-result")).to_be_visible(timeout=60_000)
    again_id = page.evaluate("location.hash").rsplit("/", 1)[-1]
    assert server.api("operator", "GET", f"/v1/whatif/{again_id}").json()["params"].get("trace") is None

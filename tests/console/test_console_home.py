"""The operator's start page (#/home) in a real Chromium against a real ``suanli serve --demo``: every
tile and count shows the figure of ``GET /v1/reports/overview`` and of ``suanli report overview --json``
for the same moment; the charts plot the reports' exact figures for the same period; the node × device
heatmap has a cell per device with the lease's tenant; counts link to filtered lists; both languages;
1024 px without horizontal scrolling; a tenant is kept out.

Freezing the data: the leases of the test are ended before anything is read (closed allocation
windows: the month's revenue, the lease rate of the last 24 h and the counts stay the same from one
read to the next; only the instant moves)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from suanli.testing.serve import ServeProcess, clean_env, start_serve

pytestmark = pytest.mark.browser

TILES = {"tile-allocation": "allocation", "tile-lease-rate": "lease_rate", "tile-revenue": "revenue_mtd",
         "tile-run-rate": "run_rate", "tile-margin": "margin_mtd"}
SUANLI = str(Path(sys.executable).parent / "suanli")


class Frozen:
    """A demo server whose capacity series is sampled once an hour (the first sample at start): between
    two reads within a test no new sample lands, so energy figures and the series stay put."""

    def __init__(self, srv: ServeProcess) -> None:
        self.srv, self.url, self.tokens = srv, srv.url, srv.tokens()

    @property
    def console(self) -> str:
        return f"{self.url}/console/"

    def api(self, role_or_token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        token = self.tokens.get(role_or_token, role_or_token)
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)

    def wait_for_sample(self) -> None:
        """Wait (bounded) for the background pass's first capacity sample: a condition, not a sleep."""
        deadline = time.monotonic() + 60
        while True:
            r = self.api("operator", "GET", "/v1/reports/capacity").json()
            if Decimal(r["total"]["observed_seconds"]) > 0:
                return
            assert time.monotonic() < deadline, r
            time.sleep(0.2)  # polling a real process's background pass, bounded by the deadline


def frozen_server(tmp_path: Path, database_url: str | None) -> Iterator[Frozen]:
    srv = start_serve(tmp_path / "data", database_url=database_url,
                      env=clean_env(SUANLI_CAPACITY_SAMPLE_SECONDS="3600"), deadline_s=60)
    try:
        frozen = Frozen(srv)
        frozen.wait_for_sample()
        yield frozen
    finally:
        srv.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Frozen]:
    """On SQLite."""
    yield from frozen_server(tmp_path, None)


@pytest.fixture
def any_server(tmp_path: Path, db_url: str | None) -> Iterator[Frozen]:
    """On SQLite and on the test PostgreSQL."""
    yield from frozen_server(tmp_path, db_url)


def place(server: Any, token: str, **order: Any) -> dict[str, Any]:
    r = server.api(token, "POST", "/v1/orders", json=order)
    assert r.status_code == 201, r.text
    lease: dict[str, Any] = server.api(token, "GET", f"/v1/leases/{r.json()['lease_id']}").json()
    return lease


def end(server: Any, token: str, lease: dict[str, Any]) -> None:
    r = server.api(token, "POST", f"/v1/leases/{lease['id']}/end")
    assert r.status_code == 200, r.text


def cli_overview(server: Any) -> dict[str, Any]:
    out = subprocess.run([SUANLI, "--server", server.url, "--token", server.tokens["operator"], "report", "overview",
                          "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def without_instant(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "as_of"}


def frozen_world(server: Any) -> None:
    """Leases placed and ended (closed windows), a node down: figures that do not move between reads."""
    whole = place(server, "tenant", form="gpu", quantity=2, models=["L20"])
    part = place(server, "tenant", form="slice", share_pct=25, memory_mib=1024)
    end(server, "tenant", whole)
    end(server, "tenant", part)
    node = server.api("operator", "GET", "/v1/nodes").json()[-1]["name"]
    r = server.api("operator", "POST", f"/v1/nodes/{node}/state", json={"state": "down", "reason": "psu"})
    assert r.status_code == 200, r.text


def fmt(page: Page, fn: str, *args: Any) -> str:
    """A value formatted by the console's own i18n.js (the locale in use), for comparing shown text."""
    out: str = page.evaluate("([fn, args]) => import('./i18n.js').then((m) => m[fn](...args))", [fn, list(args)])
    return out


def test_tiles_and_counts_equal_the_api_and_the_cli_for_the_same_moment(
        any_server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    server = any_server
    frozen_world(server)
    api = server.api("operator", "GET", "/v1/reports/overview").json()
    assert without_instant(cli_overview(server)) == without_instant(api)
    assert api["counts"]["down_nodes"] == 1

    page = sign_in(server, "operator")
    expect(page).to_have_url(re.compile(r"#/home$"))  # the operator's start page
    home = page.get_by_test_id("home")
    expect(home).to_be_visible()
    for testid, key in TILES.items():
        tile = page.get_by_test_id(testid)
        expect(tile).to_have_attribute("data-value", api[key]["now"])
        expect(tile).to_have_attribute("data-before", api[key]["before"])
        expect(tile.get_by_test_id("delta")).to_have_attribute("data-delta", api[key]["delta"])
    expect(page.get_by_test_id("tile-allocation-value")).to_have_text(fmt(page, "fmtPercent", api["allocation"]["now"]))
    expect(page.get_by_test_id("tile-revenue-value")).to_have_text(fmt(page, "fmtMoney", api["revenue_mtd"]["now"],
                                                                        api["currency"]))
    for key, n in api["counts"].items():
        expect(page.get_by_test_id(f"count-{key}")).to_have_attribute("data-value", str(n))
    # the same figures again, after the page: nothing moved
    assert without_instant(server.api("operator", "GET", "/v1/reports/overview").json()) == without_instant(api)
    shots(page, "home-en")


def test_revenue_and_payback_charts_plot_the_reports_figures(server: Any, sign_in: Callable[..., Page]) -> None:
    frozen_world(server)
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/home?period=24h")
    chart = page.get_by_test_id("home-revenue-chart")
    expect(chart).to_be_visible()
    edges = json.loads(chart.get_attribute("data-query") or "[]")
    assert len(edges) == 7  # 24 h in six buckets
    cells = chart.get_by_test_id("home-revenue-chart-data").locator("td[data-series]")
    plotted = {(c.get_attribute("data-series"), c.get_attribute("data-x")): c.get_attribute("data-value")
               for c in cells.all()}
    for lo, hi in itertools.pairwise(edges):
        r = server.api("operator", "GET", "/v1/reports/revenue", params={"start": lo, "end": hi, "by": "site"}).json()
        assert plotted[("supplier_share", lo)] == r["total"]["supplier_share"]
        assert plotted[("commission", lo)] == r["total"]["commission"]
    econ = server.api("operator", "GET", "/v1/reports/economics", params={"by": "site"}).json()
    payback = json.loads(page.get_by_test_id("home-payback-chart").get_attribute("data-chart") or "{}")
    assert payback["series"] == {g["group"]: g["curve"] for g in econ["groups"]}
    expect(page.get_by_test_id("period-24h")).to_have_attribute("aria-current", "true")


def test_home_in_chinese_at_1024_px_and_kept_from_a_tenant(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "operator")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.evaluate("localStorage.setItem('suanli.lang', 'zh-CN')")
    page.reload()
    expect(page.locator("h1")).to_have_text("运营总览")
    expect(page.get_by_test_id("count-down_nodes")).to_contain_text("故障节点")
    expect(page.get_by_test_id("tile-revenue")).to_contain_text("本月收入")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    assert "home." not in page.get_by_test_id("home").inner_text()  # no key shown in place of a message
    shots(page, "home-zh-CN-1024")
    page.evaluate("localStorage.setItem('suanli.lang', 'en')")
    page.evaluate("sessionStorage.clear()")
    sign_in(server, "tenant")
    page.goto(f"{server.console}#/home")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
    expect(page.get_by_test_id("home")).to_have_count(0)
    assert server.api("tenant", "GET", "/v1/reports/overview").status_code == 403


def series_of(report: dict[str, Any], field: str) -> dict[str, Any]:
    """The capacity report's points as the page plots them: x = instants, one series per group."""
    xs = sorted({p["at"] for p in report["points"]})
    groups = sorted({p["group"] for p in report["points"]})
    at = {(p["at"], p["group"]): p["figures"][field] for p in report["points"]}
    return {"x": xs, "series": {g: [at.get((x, g)) for x in xs] for g in groups}}


def test_allocation_charts_plot_the_capacity_reports_figures(server: Any, sign_in: Callable[..., Page]) -> None:
    place(server, "tenant", form="gpu", quantity=2, models=["L20"])
    page = sign_in(server, "operator")
    for period in ("24h", "7d"):
        page.goto(f"{server.console}#/home?period={period}")
        for by in ("model", "site"):
            chart = page.get_by_test_id(f"home-alloc-{by}-chart")
            expect(chart).to_be_visible()
            query = json.loads(chart.get_attribute("data-query") or "{}")
            assert query["by"] == by
            report = server.api("operator", "GET", "/v1/reports/capacity",
                                params={k: query[k] for k in ("start", "end", "by", "step")}).json()
            plotted = json.loads(chart.get_attribute("data-chart") or "{}")
            assert plotted == series_of(report, "allocated")
            assert plotted["x"], "the first sample is plotted"
        for testid, fields in (("home-rates", ("allocation_rate", "lease_rate")),
                               ("home-idle", ("fragmented", "unrented", "down"))):
            chart = page.get_by_test_id(f"{testid}-chart")
            query = json.loads(chart.get_attribute("data-query") or "{}")
            assert query["by"] == "none"
            report = server.api("operator", "GET", "/v1/reports/capacity",
                                params={k: query[k] for k in ("start", "end", "by", "step")}).json()
            plotted = json.loads(chart.get_attribute("data-chart") or "{}")
            assert plotted["x"] == [p["at"] for p in report["points"]]
            for f in fields:
                assert plotted["series"][f] == [p["figures"][f] for p in report["points"]]
            # measured utilisation is drawn only where telemetry measured something
            has_util = any(p["figures"]["utilisation"] is not None for p in report["points"])
            assert ("utilisation" in plotted["series"]) == (has_util and testid == "home-rates")


def test_heatmap_has_a_cell_per_device_with_the_lease_and_tenant(server: Any, sign_in: Callable[..., Page]) -> None:
    whole = place(server, "tenant", form="gpu", quantity=2, models=["L20"])
    part = place(server, "tenant", form="slice", share_pct=25, memory_mib=1024)
    heat = server.api("operator", "GET", "/v1/fleet/heatmap").json()
    page = sign_in(server, "operator")
    cells = page.get_by_test_id("heatmap-cell")
    expect(cells).to_have_count(sum(len(n["devices"]) for n in heat["nodes"]))
    for lease in (whole, part):
        for al in lease["allocations"]:
            cell = page.locator(f'[data-testid="heatmap-cell"][data-node="{al["node"]}"][data-slot="{al["device"]}"]')
            expect(cell).to_have_attribute("data-tenant-name", "demo-tenant")
            expect(cell).to_have_attribute("data-lease", lease["id"])
            cell.hover()
            expect(cell).to_have_attribute("title", re.compile(f"{lease['id']}.*demo-tenant"))
            expect(page.get_by_test_id("heatmap-grid-detail")).to_contain_text(lease["id"])
            expect(page.get_by_test_id("heatmap-grid-detail")).to_contain_text("demo-tenant")
    # a node in maintenance: its cells hatched, focus (keyboard) says so
    used = {a["node"] for x in (whole, part) for a in x["allocations"]}
    idle = next(n["node"] for n in heat["nodes"] if n["node"] not in used)
    r = server.api("operator", "POST", f"/v1/nodes/{idle}/state", json={"state": "maintenance", "reason": "fan"})
    assert r.status_code == 200, r.text
    page.reload()
    hatched = page.locator(f'[data-testid="heatmap-cell"][data-node="{idle}"]')
    expect(hatched.first).to_have_attribute("data-state", "maintenance")
    expect(hatched.first).to_have_class(re.compile("cg-maintenance"))
    hatched.first.focus()
    expect(page.get_by_test_id("heatmap-grid-detail")).to_contain_text(idle)
    al = part["allocations"][0]
    slice_cell = page.locator(f'[data-testid="heatmap-cell"][data-node="{al["node"]}"][data-slot="{al["device"]}"]')
    expect(slice_cell).to_have_attribute("data-fill", "0.25")
    slice_cell.click()
    expect(page).to_have_url(re.compile(f"#/leases/{part['id']}$"))


def test_counts_link_to_lists_filtered_to_that_many_rows(server: Any, sign_in: Callable[..., Page]) -> None:
    nodes = server.api("operator", "GET", "/v1/nodes").json()
    for n in nodes[-2:]:
        r = server.api("operator", "POST", f"/v1/nodes/{n['name']}/state", json={"state": "down", "reason": "psu"})
        assert r.status_code == 200, r.text
    # a prepaid tenant with an empty wallet: the background pass suspends its lease for the balance
    low = server.api("operator", "POST", "/v1/accounts", json={"name": "lowbal", "role": "tenant"}).json()
    r = server.api("operator", "PUT", "/v1/wallet/policy", json={"tenant": "lowbal", "warn_hours": "24",
                                                               "suspend_hours": "1"})
    assert r.status_code == 200, r.text
    lease = place(server, low["token"], form="gpu", quantity=1)
    deadline = time.monotonic() + 60
    while server.api("operator", "GET", f"/v1/leases/{lease['id']}").json()["state"] != "suspended":
        assert time.monotonic() < deadline, "the background pass did not suspend the lease"
        time.sleep(0.2)  # polling the real server's background pass, bounded by the deadline
    page = sign_in(server, "operator")
    for key, n, link, rows in (("down_nodes", 2, r"#/fleet\?state=down$", "nodes"),
                               ("suspended_leases", 1, r"#/all-leases\?state=suspended$", "leases"),
                               ("low_runway_tenants", 1, r"#/tenants\?runway=low$", "tenants")):
        page.goto(f"{server.console}#/home")
        count = page.get_by_test_id(f"count-{key}")
        expect(count).to_have_attribute("data-value", str(n))
        count.click()
        expect(page).to_have_url(re.compile(link))
        expect(page.get_by_test_id(rows).locator("tbody tr")).to_have_count(n)


def test_free_device_counts_link_to_exactly_the_nodes_holding_them(server: Any, sign_in: Callable[..., Page]) -> None:
    """The idle-whole and partly-held counts open the fleet list filtered by free capacity (free=whole,
    free=partial): the count equals the free devices of the nodes listed, and the list is exactly the
    nodes holding them (worked out here from the nodes and the leases' allocations, not from the page)."""
    whole = place(server, "tenant", form="gpu", quantity=2, models=["L20"])
    part = place(server, "tenant", form="slice", share_pct=25, memory_mib=1024)
    nodes = server.api("operator", "GET", "/v1/nodes").json()
    down = next(n["name"] for n in nodes if n["name"] not in {a["node"] for a in whole["allocations"] + part["allocations"]})
    r = server.api("operator", "POST", f"/v1/nodes/{down}/state", json={"state": "down", "reason": "psu"})
    assert r.status_code == 200, r.text
    held: dict[tuple[str, int], int] = {}
    for lease in (whole, part):
        for a in lease["allocations"]:
            held[(a["node"], a["device"])] = held.get((a["node"], a["device"]), 0) + a["milli"]
    nodes = server.api("operator", "GET", "/v1/nodes").json()
    free_whole = {n["name"]: n["devices"] - sum(1 for (node, _), m in held.items() if node == n["name"] and m > 0)
                  for n in nodes if n["state"] == "available"}
    partial = {n: sum(1 for (node, _), m in held.items() if node == n and 0 < m < 1000) for n in free_whole}
    expected = {"idle_whole_gpus": {n: k for n, k in free_whole.items() if k},
                "fragmented_gpus": {n: k for n, k in partial.items() if k}}
    assert expected["fragmented_gpus"] and down not in expected["idle_whole_gpus"]
    assert set(expected["idle_whole_gpus"]) != {n["name"] for n in nodes}  # the filter has something to leave out
    counts = server.api("operator", "GET", "/v1/reports/overview").json()["counts"]
    page = sign_in(server, "operator")
    for key, link in (("idle_whole_gpus", r"#/fleet\?free=whole"), ("fragmented_gpus", r"#/fleet\?free=partial")):
        assert counts[key] == sum(expected[key].values()), (key, counts[key], expected[key])
        page.goto(f"{server.console}#/home")
        count = page.get_by_test_id(f"count-{key}")
        expect(count).to_have_attribute("data-value", str(counts[key]))
        count.click()
        expect(page).to_have_url(re.compile(link))
        rows = page.get_by_test_id("nodes").locator("tbody tr")
        expect(rows).to_have_count(len(expected[key]))
        listed = {str(x).removeprefix("node-") for x in rows.evaluate_all("(rs) => rs.map((r) => r.dataset.testid)")}
        assert listed == set(expected[key])

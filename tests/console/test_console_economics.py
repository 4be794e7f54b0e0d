"""The operator's economics page (#/economics) in a real Chromium against a real ``suanli serve --demo``
(its demo capex, opex and settings): payback, break-even price and lease rate, NPV and IRR per site
equal ``GET /v1/reports/economics`` and ``suanli report economics --json`` for the same period; a bad
input shows the server's reason next to the field and changes nothing; both languages at 1024 px
without horizontal page scroll; a tenant is kept out.

Freezing the data: a lease is placed, runs until the revenue report shows money on its site (a
condition on the real server, bounded), and is ended; the period asked for ends at the lease's end,
so every figure is the same from one read to the next."""

from __future__ import annotations

import json
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

SUANLI = str(Path(sys.executable).parent / "suanli")
SITE = "sz-edge-1"
FIGURES = {"payback": "payback_years", "beprice": "breakeven_price_p_year", "belease": "breakeven_lease_rate",
           "npv": "npv", "irr": "irr", "capex": "capex", "revyear": "revenue_per_year", "lease": "lease_rate"}


class Frozen:
    """A demo server whose capacity series is sampled once an hour (the first sample at start): no new
    sample (energy figures) lands between two reads of one test."""

    def __init__(self, srv: ServeProcess) -> None:
        self.srv, self.url, self.tokens = srv, srv.url, srv.tokens()

    @property
    def console(self) -> str:
        return f"{self.url}/console/"

    def api(self, role_or_token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        token = self.tokens.get(role_or_token, role_or_token)
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Frozen]:
    srv = start_serve(tmp_path / "data", env=clean_env(SUANLI_CAPACITY_SAMPLE_SECONDS="3600"), deadline_s=60)
    try:
        frozen = Frozen(srv)
        deadline = time.monotonic() + 60
        while True:  # the background pass's first capacity sample: a condition, bounded
            r = frozen.api("operator", "GET", "/v1/reports/capacity").json()
            if Decimal(r["total"]["observed_seconds"]) > 0:
                break
            assert time.monotonic() < deadline, r
            time.sleep(0.2)
        yield frozen
    finally:
        srv.stop()


def frozen_period(server: Any) -> dict[str, str]:
    """A lease on the edge site that ran until its revenue shows, then ended: the period up to its end."""
    r = server.api("tenant", "POST", "/v1/orders", json={"form": "server", "quantity": 1, "models": ["L20"]})
    assert r.status_code == 201, r.text
    lease = r.json()["lease_id"]
    deadline = time.monotonic() + 60
    while True:  # a condition on the real server's metering, bounded by the deadline
        rev = server.api("operator", "GET", "/v1/reports/revenue", params={"by": "site"}).json()
        if any(g["group"] == SITE and g["revenue"] != "0.00" for g in rev["groups"]):
            break
        assert time.monotonic() < deadline, rev
        time.sleep(0.2)
    ended = server.api("tenant", "POST", f"/v1/leases/{lease}/end")
    assert ended.status_code == 200, ended.text
    end = server.api("tenant", "GET", f"/v1/leases/{lease}").json()["ended_at"]
    start = end[:10]  # midnight UTC of the lease's day
    return {"by": "site", "start": start, "end": end}


def cli_economics(server: Any, q: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([SUANLI, "--server", server.url, "--token", server.tokens["operator"], "report", "economics",
                          "--by", q["by"], "--start", q["start"], "--end", q["end"], "--json"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def fmt(page: Page, fn: str, *args: Any) -> str:
    out: str = page.evaluate("([fn, args]) => import('./i18n.js').then((m) => m[fn](...args))", [fn, list(args)])
    return out


def without_instant(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "as_of"}


def test_economics_page_equals_the_api_and_the_cli(server: Any, sign_in: Callable[..., Page],
                                                   shots: Callable[[Page, str], None]) -> None:
    q = frozen_period(server)
    api = server.api("operator", "GET", "/v1/reports/economics", params=q).json()
    assert without_instant(cli_economics(server, q)) == without_instant(api)
    site = next(g for g in api["groups"] if g["group"] == SITE)
    assert site["capex"] == "1300000.00" and site["revenue"] != "0.00"

    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/economics?by=site&start={q['start']}&end={q['end']}")
    expect(page.get_by_test_id("economics")).to_be_visible()
    for short, key in FIGURES.items():
        cell = page.get_by_test_id(f"econ-{short}-{SITE}")
        expect(cell).to_have_attribute("data-value", site[key] or "")
    expect(page.get_by_test_id(f"econ-beprice-{SITE}")).to_have_text(fmt(page, "fmtMoney", site["breakeven_price_p_year"]))
    if site["payback_years"] is None:
        expect(page.get_by_test_id(f"econ-payback-{SITE}")).to_have_text("not within the life")
    else:
        expect(page.get_by_test_id(f"econ-payback-{SITE}")).to_have_text(
            fmt(page, "fmtNumber", site["payback_years"], {"min": 2, "max": 2}))
    # the payback curve plots the report's exact figures
    chart = json.loads(page.get_by_test_id("econ-curve").get_attribute("data-chart") or "{}")
    assert chart["series"][SITE] == site["curve"]
    # the sensitivity table: one column per decline, NPV in data-value
    for row in site["sensitivity"]:
        expect(page.get_by_test_id(f"econ-sens-{SITE}-{row['price_decline']}")).to_have_attribute("data-value", row["npv"])
    shots(page, "economics-en")


def test_a_bad_input_shows_the_reason_next_to_the_field(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/economics")
    form = page.get_by_test_id("econ-settings-form")
    expect(form).to_be_visible()
    before = server.api("operator", "GET", "/v1/economics/inputs").json()
    form.locator("input[name=life_years]").fill("0")
    form.locator("input[name=interest_rate]").fill("0.05")
    form.get_by_role("button").click()
    err = page.get_by_test_id("field-error-life_years")
    expect(err).to_be_visible()
    expect(err).to_contain_text("life_years must be a whole number of years from 1 to 30")
    assert server.api("operator", "GET", "/v1/economics/inputs").json() == before  # nothing written
    # a node's capex: negative -> the reason next to capex; a good one is saved and shown
    cap = page.get_by_test_id("econ-capex-form")
    page.get_by_test_id("econ-edit-sz-l20-01").click()
    cap.locator("input[name=capex]").fill("-1")
    cap.get_by_role("button").click()
    expect(page.get_by_test_id("field-error-capex")).to_contain_text("capex must be >= 0")
    page.get_by_test_id("econ-edit-sz-l20-01").click()
    cap.locator("input[name=capex]").fill("360000")
    cap.get_by_role("button").click()
    expect(page.get_by_test_id("econ-node-capex-sz-l20-01")).to_have_attribute("data-value", "360000.00")


def test_chinese_at_1024_px_and_kept_from_a_tenant(server: Any, sign_in: Callable[..., Page],
                                                  shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "operator")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.evaluate("localStorage.setItem('suanli.lang', 'zh-CN')")
    page.goto(f"{server.console}#/economics")
    page.reload()
    expect(page.get_by_test_id("economics")).to_be_visible()
    expect(page.locator("h1")).to_have_text("投资经济性")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    assert "econ." not in page.get_by_test_id("economics").inner_text()  # no key shown in place of a message
    shots(page, "economics-zh-CN-1024")
    page.evaluate("localStorage.setItem('suanli.lang', 'en')")
    page.evaluate("sessionStorage.clear()")
    tenant = sign_in(server, "tenant")
    tenant.goto(f"{server.console}#/economics")
    expect(tenant.get_by_test_id("forbidden")).to_be_visible()
    expect(tenant.get_by_test_id("economics")).to_have_count(0)
    assert server.api("tenant", "GET", "/v1/reports/economics").status_code == 403

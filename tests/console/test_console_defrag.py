"""The operator's defragmentation page in a real Chromium against a real ``suanli serve --demo``: a bad notice
shows the server's reason and writes nothing, a good one is saved; a plan where nothing needs to move says so;
a tenant cannot open the page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def _signed_in(browser: Browser, server: Any, role: str) -> Page:
    page = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 900}).new_page()
    page.goto(server.console)
    page.get_by_label("API token").fill(server.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def test_operator_sets_the_notice_and_plans(server: Any, browser: Browser) -> None:
    op = _signed_in(browser, server, "operator")
    op.goto(f"{server.console}#/defrag")
    expect(op.get_by_test_id("defrag-page")).to_be_visible()
    before = server.api("operator", "GET", "/v1/defrag/settings").json()
    op.locator("#dfg-notice_s").fill("90000")
    op.get_by_test_id("defrag-save").click()
    expect(op.get_by_test_id("defrag-settings-error")).to_contain_text("86400")
    assert server.api("operator", "GET", "/v1/defrag/settings").json() == before
    op.locator("#dfg-notice_s").fill("300")
    op.get_by_test_id("defrag-save").click()
    expect(op.locator("#dfg-notice_s")).to_have_value("300")
    assert server.api("operator", "GET", "/v1/defrag/settings").json()["notice_s"] == 300
    # a free H800 node: the 8 GPUs fit without any move, so no plan is stored
    op.locator("#dfg-gpus").fill("8")
    op.locator("#dfg-model").fill("H800")
    op.get_by_test_id("defrag-run").click()
    expect(op.get_by_test_id("defrag-propose-status")).to_contain_text("No move of a migratable lease")
    assert server.api("operator", "GET", "/v1/defrag/plans").json() == []

    t = _signed_in(browser, server, "tenant")
    t.goto(f"{server.console}#/defrag")
    expect(t.get_by_test_id("defrag-page")).to_have_count(0)


def test_a_plan_shows_where_each_lease_moves_from_and_to(server: Any, browser: Browser) -> None:
    """16 migratable A800 leases fill both nodes, 4 end on each: the plan's moves read as node/device
    (model, site) → node/device, the lease's real allocation before and the planned one after."""
    spot: dict[str, tuple[str, int, str, str]] = {}
    by_node: dict[str, list[str]] = {}
    for _ in range(16):
        r = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["A800"],
                                                             "hours": 10, "migratable": True})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "fulfilled", r.text
        lease = server.api("tenant", "GET", f"/v1/leases/{r.json()['lease_id']}").json()
        a = lease["allocations"][0]
        spot[lease["id"]] = (a["node"], a["device"], a["model"], a["site"])
        by_node.setdefault(a["node"], []).append(lease["id"])
    for ids in by_node.values():
        for lid in ids[:4]:
            assert server.api("tenant", "POST", f"/v1/leases/{lid}/end").status_code == 200
    got = server.api("operator", "POST", "/v1/defrag/plans",
                     json={"targets": [{"form": "gpu", "quantity": 8, "models": ["A800"]}]}).json()
    plan = got["plan"]
    assert plan is not None and len(plan["moves"]) == 4
    op = _signed_in(browser, server, "operator")
    op.goto(f"{server.console}#/defrag")
    rows = op.get_by_test_id(f"defrag-moves-{plan['id']}").locator("tbody tr")
    expect(rows).to_have_count(4)
    for i, m in enumerate(plan["moves"]):
        node, dev, model, site = spot[m["lease_id"]]
        to = m["to"][0]
        assert to["node"] != node and m["route"] == f"{node}/{dev} ({model}, {site}) → {to['node']}/{to['device']}"
        expect(rows.nth(i)).to_contain_text(f"{node}/{dev} ({model}, {site})")
        expect(rows.nth(i)).to_contain_text(f"{to['node']}/{to['device']}")
    expect(op.get_by_test_id(f"defrag-moves-{plan['id']}")).to_contain_text("From")
    op.get_by_test_id("lang-zh-CN").click()
    expect(op.get_by_test_id(f"defrag-moves-{plan['id']}")).to_contain_text("原位置")
    expect(rows.first).to_contain_text(f"{spot[plan['moves'][0]['lease_id']][0]}/")

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

"""Oversubscription in a real Chromium against a real ``suanli serve --demo``: the operator sets a factor on
#/oversub (a bad factor shows the server's reason next to the field, nothing is written), the tenant's order
form offers a burstable slice and says what it means and costs, the order's quote says so, the operator's
page shows the pool as the API does; both languages; a tenant cannot open the page."""

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


def test_operator_sets_a_factor_and_a_tenant_orders_a_burstable_slice(server: Any, browser: Browser) -> None:
    op = _signed_in(browser, server, "operator")
    op.goto(f"{server.console}#/oversub")
    expect(op.get_by_test_id("oversub-page")).to_be_visible()
    expect(op.get_by_test_id("oversub-in-force")).to_contain_text("No factor set")
    op.locator("#os-site").fill("sz-edge-1")
    op.locator("#os-model").fill("L20")
    op.locator("#os-factor").fill("9")
    op.locator("#os-discount_pct").fill("25")
    op.get_by_test_id("oversub-save").click()
    expect(op.get_by_test_id("oversub-error")).to_contain_text("4")
    assert server.api("operator", "GET", "/v1/oversub").json()["history"] == []
    op.locator("#os-factor").fill("2")
    op.get_by_test_id("oversub-save").click()
    expect(op.get_by_test_id("oversub-factors")).to_contain_text("L20")
    assert server.api("operator", "GET", "/v1/oversub").json()["in_force"][0]["factor"] == "2"

    # the tenant's order form
    t = _signed_in(browser, server, "tenant")
    t.goto(f"{server.console}#/order?form=slice&model=L20")
    expect(t.get_by_test_id("order-form")).to_be_visible()
    t.locator("#f-share_pct").fill("50")
    t.locator("#f-memory_mib").fill("4096")
    t.locator("#f-slice_class").select_option("burstable")
    expect(t.get_by_test_id("burstable-note")).to_contain_text("may be slowed when neighbours are busy")
    expect(t.get_by_test_id("burstable-note")).to_contain_text("25 % lower")
    expect(t.get_by_test_id("quote")).to_contain_text("priced 25 % lower")
    t.locator("form[data-testid=order-form] button[type=submit]").click()
    expect(t.get_by_test_id("lease-facts")).to_be_visible()
    lease_id = t.url.rsplit("/", 1)[1]
    lease = server.api("tenant", "GET", f"/v1/leases/{lease_id}").json()
    assert lease["allocations"][0]["sold_milli"] == 500 and lease["allocations"][0]["milli"] == 250
    expect(t.get_by_test_id("burstable-share")).to_contain_text("50 % burstable")  # the sold share, not the charge

    op.reload()  # the page as it is now
    expect(op.get_by_test_id("oversub-pools")).to_contain_text("sz-edge-1")
    pool = server.api("operator", "GET", "/v1/oversub").json()["pools"][0]
    expect(op.get_by_test_id("oversub-pools").locator(f"[data-value='{pool['oversold']}']")).to_have_count(1)
    op.evaluate("localStorage.setItem('suanli.lang', 'zh-CN')")
    op.reload()
    expect(op.get_by_test_id("oversub-page")).to_contain_text("超卖")
    missing = op.evaluate("async () => (await import('./i18n.js')).missing()")
    assert missing == []
    op.goto(f"{server.console}#/economics")
    expect(op.get_by_test_id("econ-oversub")).to_contain_text("L20")

    # a tenant cannot open the operator's page
    t.goto(f"{server.console}#/oversub")
    expect(t.get_by_test_id("forbidden")).to_be_visible()

"""Custom shapes in a real Chromium against a real ``suanli serve --demo``: the tenant orders a custom
shape (one L20 with more cores and RAM than its share) from the order form, the quote shows the
resource lines at the demo's resource prices, the lease holds what was asked; a CPU-only instance; a
shape no node holds shows the server's reason; the operator's prices page lists and sets resource
prices; both languages."""

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


def test_a_tenant_orders_a_custom_shape_and_the_operator_sees_resource_prices(server: Any, browser: Browser) -> None:
    t = _signed_in(browser, server, "tenant")
    t.goto(f"{server.console}#/order?form=gpu&model=L20")
    expect(t.get_by_test_id("order-shape")).to_be_visible()
    t.locator("#f-quantity").fill("1")
    t.locator("#f-cpu_cores").fill("16")
    t.locator("#f-ram_gib").fill("96")
    t.locator("#f-hours").fill("10")
    expect(t.get_by_test_id("quote")).to_contain_text("cpu_core_hour")
    expect(t.get_by_test_id("quote")).to_contain_text("ram_gib_hour")
    t.locator("form[data-testid=order-form] button[type=submit]").click()
    expect(t.get_by_test_id("lease-facts")).to_be_visible()
    lease_id = t.url.rsplit("/", 1)[1]
    lease = server.api("tenant", "GET", f"/v1/leases/{lease_id}").json()
    assert [a["model"] for a in lease["allocations"]] == ["L20"]
    lines = {x["model"]: x for x in lease["quote"]["lines"] if x["basis"] == "resource"}
    assert lines["cpu_core_hour"]["devices"] == "8" and lines["ram_gib_hour"]["devices"] == "32"

    # a CPU-only instance, and a shape no node holds
    t.goto(f"{server.console}#/order?form=cpu")
    expect(t.get_by_test_id("shape-help")).to_contain_text("cores and RAM are required")
    t.locator("#f-cpu_cores").fill("500")
    t.locator("#f-ram_gib").fill("8")
    expect(t.get_by_test_id("quote")).to_contain_text("the largest has 192 cores")
    t.locator("#f-cpu_cores").fill("4")
    expect(t.get_by_test_id("quote")).to_contain_text("cpu_core_hour")
    t.locator("form[data-testid=order-form] button[type=submit]").click()
    expect(t.get_by_test_id("lease-facts")).to_be_visible()
    cpu_lease = server.api("tenant", "GET", f"/v1/leases/{t.url.rsplit('/', 1)[1]}").json()
    assert cpu_lease["form"] == "cpu" and cpu_lease["allocations"] == []

    op = _signed_in(browser, server, "operator")
    op.goto(f"{server.console}#/prices")
    expect(op.get_by_test_id("resource-prices")).to_contain_text("CPU core-hour")
    op.locator("#f-resource").select_option("disk_gib_month")
    op.locator("#f-resource-amount").fill("-1")
    op.get_by_test_id("resource-price-form").locator("button[type=submit]").click()
    expect(op.get_by_test_id("resource-price-error")).to_be_visible()
    op.locator("#f-resource-amount").fill("0.25")
    op.get_by_test_id("resource-price-form").locator("button[type=submit]").click()
    expect(op.get_by_test_id("resource-prices")).to_contain_text("0.25")  # the page again, with the new price
    disk = [x for x in server.api("operator", "GET", "/v1/resource-prices").json() if x["resource"] == "disk_gib_month"]
    assert [x["amount"] for x in disk] == ["0.3", "0.25"] or [x["amount"] for x in disk] == ["0.30", "0.25"]
    op.evaluate("localStorage.setItem('suanli.lang', 'zh-CN')")
    op.reload()
    expect(op.get_by_test_id("resource-prices-panel")).to_contain_text("资源价格")
    assert op.evaluate("async () => (await import('./i18n.js')).missing()") == []

"""Enforced slices in a real Chromium against a real ``suanli serve --demo``: the order form's quote says how a
would-be slice is enforced before it is ordered (a MIG profile on A100, MPS on L20), the lease page says it
after, both languages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def _signed_in(browser: Browser, server: Any, role: str, locale: str = "en-US") -> Page:
    page = browser.new_context(locale=locale, viewport={"width": 1024, "height": 900}).new_page()
    page.goto(server.console)
    page.locator("#token").fill(server.tokens[role])
    page.locator("form button[type=submit]").first.click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def test_the_slice_form_shows_the_enforcement_before_ordering(server: Any, browser: Browser) -> None:
    t = _signed_in(browser, server, "tenant")
    t.goto(f"{server.console}#/order?form=slice&model=A100-80GB")
    expect(t.locator("[data-field=allow_unenforced]")).to_be_visible()
    t.locator("#f-share_pct").fill("10")
    t.locator("#f-memory_mib").fill("1024")
    expect(t.get_by_test_id("quote-enforcement")).to_contain_text("mig:1g.10gb")
    expect(t.get_by_test_id("quote-enforcement")).to_contain_text("hardware partition")
    t.locator("form[data-testid=order-form] button[type=submit]").click()
    expect(t.get_by_test_id("lease-enforcement")).to_have_text("mig:1g.10gb")
    lease = server.api("tenant", "GET", f"/v1/leases/{t.url.rsplit('/', 1)[1]}").json()
    assert lease["enforcement"] == "mig:1g.10gb" and lease["allocations"][0]["milli"] == 125

    zh = _signed_in(browser, server, "tenant", "zh-CN")
    zh.goto(f"{server.console}#/order?form=slice&model=L20")
    zh.locator("#f-share_pct").fill("30")
    zh.locator("#f-memory_mib").fill("4096")
    expect(zh.get_by_test_id("quote-enforcement")).to_contain_text("MPS 限制")
    expect(zh.locator("[data-field=allow_unenforced]")).to_contain_text("接受不隔离的切片")
    zh.locator("#f-form").select_option("gpu")
    expect(zh.locator("[data-field=allow_unenforced]")).to_be_hidden()

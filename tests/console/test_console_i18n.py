"""The console in two languages: the switch (remembered, ``<html lang>``), the browser's language as the
default, times in the operator's time zone, and every page of every role in both languages with no
missing message, no raw key, no horizontal page scroll at 1024 px and a screenshot saved."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
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
    expect(page.get_by_test_id("updated")).to_contain_text("GMT+8")  # the header says which clock
    expect(page.get_by_test_id("price-panel")).to_contain_text("Asia/Shanghai")  # and the time input


# ---------------------------------------------------------------------------------------------------
# Every page of every role, in both languages, at 1024 px: no missing message, no raw key, no
# horizontal scroll of the page, a screenshot saved. The page list comes from app.js (pagesOf), so
# pages added later by other parts are covered without editing this test.

SHOT_ENV = "SUANLI_TEST_SCREENSHOTS"
REPO = Path(__file__).resolve().parents[2]


def shot_dirs(tmp_path: Path) -> list[Path]:
    """Where screenshots go: $SUANLI_TEST_SCREENSHOTS (default tmp_path), and under the repository's
    test-output/screenshots/ (ignored by git) when CI=true, for the CI run to keep."""
    dirs = [Path(os.environ.get(SHOT_ENV) or tmp_path / "screenshots")]
    if os.environ.get("CI") == "true":
        dirs.append(REPO / "test-output" / "screenshots")
    return dirs


def sign_in_at(page: Page, server: Any, role: str, lang: str) -> None:
    page.goto(server.console)
    page.evaluate("(l) => localStorage.setItem('suanli.lang', l)", lang)
    page.reload()
    page.locator("#token").fill(server.tokens[role])
    page.locator("form[data-testid=login-form] button[type=submit]").click()
    expect(page.get_by_test_id("who")).to_be_visible()


def check_page(page: Page, name: str, dirs: list[Path]) -> None:
    expect(page.get_by_test_id("loading")).to_have_count(0)
    expect(page.locator("main")).not_to_be_empty()
    page.wait_for_load_state("networkidle")
    problems = page.evaluate("""async () => {
      const m = await import('./i18n.js');
      const de = document.documentElement;
      return { missing: m.missing(), unknown: m.unknown(), lang: de.lang,
               scroll: [de.scrollWidth, de.clientWidth], error: document.querySelector('main .error:not(.field-error)')?.innerText || null };
    }""")
    assert problems["missing"] == [], f"{name}: keys without both languages: {problems['missing']}"
    assert problems["unknown"] == [], f"{name}: keys shown raw or in the wrong language: {problems['unknown']}"
    width, client = problems["scroll"]
    assert width <= client, f"{name}: the page scrolls sideways at 1024 px ({width} > {client})"
    assert problems["error"] is None, f"{name}: {problems['error']}"
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(d / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_page_of_every_role_in_both_languages(server: Any, browser: Browser, tmp_path: Path, lang: str) -> None:
    r = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]})
    assert r.status_code == 201, r.text
    lease_id = r.json()["lease_id"]
    dirs = shot_dirs(tmp_path)
    extra = {"operator": [f"/leases/{lease_id}", "/tenants/demo-tenant"], "tenant": [f"/leases/{lease_id}"],
             "supplier": [f"/leases/{lease_id}"]}
    context = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 800})
    try:
        for role in ("operator", "tenant", "supplier"):
            page = context.new_page()
            sign_in_at(page, server, role, lang)
            assert page.evaluate("document.documentElement.lang") == lang
            pages = page.evaluate("async (r) => (await import('./app.js')).pagesOf(r)", role)
            assert pages, role
            for path in [*pages, *extra[role]]:
                page.goto(f"{server.console}#{path}")
                check_page(page, f"{role}{path.replace('/', '-')}-{lang}", dirs)
            page.close()
    finally:
        context.close()


OPERATOR_PAGES = ["/fleet", "/all-leases", "/revenue", "/prices", "/tenants", "/economics", "/home", "/whatif", "/oversub", "/defrag"]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_tenant_cannot_open_operator_pages(server: Any, page: Page, lang: str) -> None:
    sign_in_at(page, server, "tenant", lang)
    routes = page.evaluate("async () => (await import('./app.js')).ROUTES.map((r) => [r.re.source, r.roles])")
    for path in OPERATOR_PAGES:
        page.goto(f"{server.console}#{path}")
        known = any(re.fullmatch(src.replace("\\/", "/"), path) for src, _roles in routes)
        if known:
            expect(page.get_by_test_id("forbidden")).to_be_visible()
            expect(page.get_by_test_id("forbidden")).to_contain_text("demo-tenant")
        else:
            expect(page.get_by_test_id("not-found")).to_be_visible()
        # no operator data on the page: no node of the fleet, no other tenant
        expect(page.locator("main")).not_to_contain_text("sh-h800-01")
        expect(page.locator("main table")).to_have_count(0)
    # and the API refuses the tenant the operator's data
    for path in ["/v1/accounts", "/v1/statements/revenue", "/v1/billing/invoices?tenant=beta-lab"]:
        r = server.api("tenant", "GET", path)
        assert r.status_code in (403, 404), (path, r.status_code)
    assert server.api("tenant", "GET", "/v1/statements/revenue").status_code == 403

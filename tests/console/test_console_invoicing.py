"""Invoicing in the console, in real Chromium against a real server: the operator sets the seller's
legal profile and a tax rate through the page (the API then shows exactly that); refusals (a wrong
check character of a unified social credit code, a rate from a past instant) show next to their field
and write nothing; a tenant's invoice document follows the console's language; the tenant's buyer
profile on its billing page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

GOOD_CODE = "9144030071526726XG"  # a valid GB 32100-2015 code (the demo buyer's)
BAD_CODE = "9144030071526726X0"  # the same with a wrong check character


def previous_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def test_operator_sets_the_seller_and_a_tax_rate_through_the_page(server: Any, sign_in: Callable[..., Page],
                                                                 shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "operator")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Invoicing", exact=True).click()
    form = page.get_by_test_id("seller-form")
    expect(form.locator("input[name=legal_name]")).to_have_value("示例算力运营有限公司 (demo)")
    before = server.api("operator", "GET", "/v1/legal/seller").json()

    # a wrong check character: the server's reason next to the field, nothing written
    form.locator("input[name=legal_name]").fill("杭州算力测试有限公司")
    form.locator("input[name=tax_id]").fill(BAD_CODE)
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_test_id("field-error-tax_id")).to_contain_text("tax_id")
    expect(page.get_by_test_id("seller-form-error")).to_be_visible()
    assert server.api("operator", "GET", "/v1/legal/seller").json() == before

    # the right one: saved, and the API shows exactly what the form holds
    form.locator("input[name=tax_id]").fill(GOOD_CODE)
    form.locator("input[name=address]").fill("杭州市西湖区测试路 3 号")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("seller-form-saved")).to_contain_text(GOOD_CODE)
    expect(form.get_by_test_id("field-error-tax_id")).to_have_count(0)
    seller = server.api("operator", "GET", "/v1/legal/seller").json()
    assert (seller["legal_name"], seller["tax_id"], seller["address"], seller["phone"], seller["bank_account"]) == (
        "杭州算力测试有限公司", GOOD_CODE, "杭州市西湖区测试路 3 号", before["phone"], before["bank_account"])

    # a rate from a past instant: refused next to the field, nothing written
    rates_before = server.api("operator", "GET", "/v1/tax-rates").json()["rates"]
    rate_form = page.get_by_test_id("rate-form")
    rate_form.locator("select[name=product_type]").select_option("storage")
    rate_form.locator("input[name=rate]").fill("0.09")
    rate_form.locator("input[name=effective_from]").fill("2020-01-01T00:00:00")
    rate_form.get_by_role("button", name="Set rate").click()
    expect(rate_form.get_by_test_id("field-error-effective_from")).to_contain_text("in the past")
    assert server.api("operator", "GET", "/v1/tax-rates").json()["rates"] == rates_before

    # from a future instant (operator's zone, Asia/Shanghai): the API lists exactly that
    year = datetime.now(UTC).year + 1
    rate_form.locator("input[name=effective_from]").fill(f"{year}-01-01T00:00:00")
    rate_form.locator("input[name=reason]").fill("console test")
    rate_form.get_by_role("button", name="Set rate").click()
    expect(page.get_by_test_id("flash")).to_contain_text("9%")
    rates = server.api("operator", "GET", "/v1/tax-rates").json()
    new = [r for r in rates["rates"] if r not in rates_before]
    assert len(new) == 1
    assert (new[0]["product_type"], new[0]["rate"], new[0]["reason"]) == ("storage", "0.09", "console test")
    assert datetime.fromisoformat(new[0]["effective_from"]) == datetime(year - 1, 12, 31, 16, 0, tzinfo=UTC)
    expect(page.get_by_test_id("rates-history")).to_contain_text("console test")
    shots(page, "invoicing-operator")

    # the operator's page of a tenant holds its buyer profile, which the operator may change
    page.goto(f"{server.console}#/tenants/demo-tenant")
    buyer = page.get_by_test_id("buyer-form")
    expect(buyer.locator("input[name=tax_id]")).to_have_value("9144030071526726XG")
    buyer.locator("input[name=phone]").fill("0755-80000001")
    buyer.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("buyer-form-saved")).to_be_visible()
    assert server.api("operator", "GET", "/v1/legal/buyers/demo-tenant").json()["phone"] == "0755-80000001"
    expect(page.get_by_test_id("buyer-form-changed")).to_contain_text("by operator")


def test_tenant_invoice_document_in_chinese_and_its_buyer_profile(server: Any, sign_in: Callable[..., Page],
                                                                  shots: Callable[[Page, str], None]) -> None:
    period = previous_month(datetime.now(UTC))
    r = server.api("operator", "POST", "/v1/usage/events", json={
        "id": "inv-doc-1", "source": "console-test", "type": "device_seconds", "subject": "demo-tenant",
        "time": f"{period}-15T10:00:00Z", "data": {"quantity": "7200", "model": "L20", "site": "sz-edge-1"}})
    assert r.status_code == 202, r.text
    made = server.api("operator", "POST", "/v1/billing/invoices", json={"tenant": "demo-tenant", "period": period})
    assert made.status_code == 201, made.text
    inv = made.json()

    page = sign_in(server, "tenant")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.evaluate("localStorage.setItem('suanli.lang', 'zh-CN')")
    page.goto(f"{server.console}#/billing")
    page.reload()
    button = page.get_by_test_id(f"download-html-{inv['id']}").first
    expect(button).to_be_visible()
    href = button.get_attribute("data-href")
    assert href is not None and "lang=zh-CN" in href
    doc = page.evaluate("""async (href) => {
        const res = await fetch(href, { headers: { Authorization: `Bearer ${sessionStorage.getItem('suanli.token')}` } });
        return { status: res.status, text: await res.text() };
    }""", href)
    assert doc["status"] == 200
    assert "价税合计" in doc["text"] or "大写" in doc["text"]
    csv_href = page.get_by_test_id(f"download-csv-{inv['id']}").first.get_attribute("data-href")
    assert csv_href is not None and "lang=zh-CN" in csv_href

    # the buyer profile: the demo tenant's, editable by its admin; a bad code is refused at its field
    buyer = page.get_by_test_id("buyer-form")
    expect(buyer.locator("input[name=tax_id]")).to_have_value("9144030071526726XG")
    expect(buyer.locator("select[name=invoice_type]")).to_have_value("special")
    before = server.api("tenant", "GET", "/v1/legal/buyers/demo-tenant").json()
    buyer.locator("input[name=tax_id]").fill(BAD_CODE)
    buyer.get_by_role("button", name="保存").click()
    expect(buyer.get_by_test_id("field-error-tax_id")).to_be_visible()
    assert server.api("tenant", "GET", "/v1/legal/buyers/demo-tenant").json() == before
    buyer.locator("input[name=tax_id]").fill(GOOD_CODE)
    buyer.locator("select[name=invoice_type]").select_option("normal")
    buyer.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("buyer-form-saved")).to_be_visible()
    assert server.api("tenant", "GET", "/v1/legal/buyers/demo-tenant").json()["invoice_type"] == "normal"
    expect(page.get_by_test_id("buyer-form-changed")).to_contain_text("demo-tenant")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    shots(page, "invoicing-tenant-zh-CN-1024")
    page.evaluate("localStorage.setItem('suanli.lang', 'en')")

    # the English page asks for the English document
    page.reload()
    href_en = page.get_by_test_id(f"download-html-{inv['id']}").first.get_attribute("data-href")
    assert href_en is not None and "lang=en" in href_en


def test_a_viewer_member_reads_the_buyer_profile_and_cannot_change_it(
        server: Any, sign_in: Callable[..., Page]) -> None:
    made = server.api("tenant", "POST", "/v1/members", json={"name": "view-ana", "role": "viewer"})
    assert made.status_code == 201, made.text
    before = server.api("tenant", "GET", "/v1/legal/buyers/demo-tenant").json()
    page = sign_in(server, made.json()["token"])
    page.goto(f"{server.console}#/billing")
    buyer = page.get_by_test_id("buyer-form")
    expect(buyer.locator("input[name=tax_id]")).to_have_value(before["tax_id"])
    expect(buyer.locator("input[name=tax_id]")).to_be_disabled()
    expect(buyer.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_test_id("buyer-profile")).to_contain_text("Only your organisation's admin or finance member")
    # and the API agrees: the viewer may not set it
    r = server.api(made.json()["token"], "PUT", "/v1/legal/buyers/demo-tenant", json={**{k: before[k] for k in (
        "legal_name", "tax_id", "address", "phone", "bank_name", "bank_account")}, "invoice_type": "normal"})
    assert r.status_code == 403, r.text

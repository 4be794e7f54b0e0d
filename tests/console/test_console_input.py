"""The input rules in the console (docs/input.md): a value the API refuses shows the server's message
next to the field of the form that failed (and in the form's status line), and nothing is written.
Real Chromium against a real ``suanli serve --demo``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_an_order_out_of_bounds_names_the_field(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "tenant")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Order", exact=True).click()
    form = page.get_by_test_id("order-form")
    page.locator("#f-model").select_option("H800")
    page.locator("#f-hours").fill("1e16")
    page.get_by_role("button", name="Place order").click()
    expect(form.get_by_test_id("field-error-hours")).to_contain_text("above 0 to 87600")
    expect(page.get_by_test_id("order-error")).to_contain_text("hours")
    expect(form.locator("[data-field=hours]").get_by_test_id("field-error-hours")).to_be_visible()

    page.locator("#f-hours").fill("2")
    page.locator("#f-quantity").fill("true")
    page.get_by_role("button", name="Place order").click()
    expect(form.get_by_test_id("field-error-quantity")).to_contain_text("give a whole number")
    expect(form.get_by_test_id("field-error-hours")).to_have_count(0)  # the earlier refusal is cleared
    assert server.api("tenant", "GET", "/v1/orders").json()["items"] == []


def test_money_out_of_bounds_names_the_field(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "operator")
    page.goto(server.console + "#/tenants/demo-tenant")
    top = page.get_by_test_id("top-up-panel")
    top.locator("#top-amount").fill("1e30")
    top.get_by_role("button", name="Top up…").click()
    top.get_by_role("button", name="Record top-up").click()
    expect(top.get_by_test_id("field-error-amount")).to_contain_text("<= 1000000000")
    expect(page.get_by_test_id("top-up-error")).to_contain_text("amount")
    top.locator("#top-amount").fill("10")
    top.locator("#top-reference").fill("r" * 65)
    top.get_by_role("button", name="Top up…").click()
    expect(top.get_by_test_id("field-error-amount")).to_have_count(0)
    top.get_by_role("button", name="Record top-up").click()
    expect(top.get_by_test_id("field-error-reference")).to_contain_text("at most 64 characters")
    assert Decimal(server.api("operator", "GET", "/v1/wallet", params={"tenant": "demo-tenant"}).json()["balance"]) == 0

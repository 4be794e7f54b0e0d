"""Packages in the web console, in real Chromium against a real ``suanli serve --demo``: a tenant sees
the operator's products with their prices and tiers and buys one at the listed price (it enters only
how many); a bad count is refused with the API's message; the operator sees what tenants hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def to_packages(page: Page) -> None:
    page.get_by_role("navigation", name="main").get_by_role("link", name="Packages", exact=True).click()
    expect(page.get_by_test_id("products")).to_be_visible()


def test_a_tenant_buys_a_product_at_the_listed_price(server: Any, sign_in: Callable[..., Page],
                                                     shots: Callable[[Page, str], None]) -> None:
    products = {p["name"]: p for p in server.api("tenant", "GET", "/v1/package-products").json()}
    l20 = products["L20 100 h"]
    page = sign_in(server, "tenant")
    to_packages(page)
    row = page.get_by_test_id(f"product-{l20['id']}")
    expect(row).to_contain_text("240.00")
    expect(row).to_contain_text("≥ 10: 225.00 each")
    expect(page.get_by_test_id("held-packages")).to_contain_text("No packages yet")
    shots(page, "tenant-packages")

    # a count the API refuses: its message is shown, nothing bought
    page.get_by_test_id(f"count-{l20['id']}").fill("0")
    page.get_by_test_id(f"buy-{l20['id']}").click()
    page.get_by_test_id("buy-confirm").get_by_role("button", name="Buy", exact=True).click()
    expect(page.get_by_test_id("buy-error")).to_contain_text("a whole number from 1 to 10000")
    assert server.api("tenant", "GET", "/v1/packages").json() == []

    # ten at the tier price
    page.get_by_test_id(f"count-{l20['id']}").fill("10")
    page.get_by_test_id(f"buy-{l20['id']}").click()
    expect(page.get_by_test_id("buy-confirm-question")).to_contain_text("225.00 元 each")
    page.get_by_test_id("buy-confirm").get_by_role("button", name="Buy", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text("Bought 10 × L20 100 h")
    (held,) = server.api("tenant", "GET", "/v1/packages").json()
    assert held["price"] == "2250" and held["quantity"] == "1000" and held["sold_by"] == ""
    expect(page.get_by_test_id(f"package-{held['id']}")).to_contain_text("2,250.00")

    # the operator sees what the tenant holds, and no buy button
    page.get_by_role("button", name="Sign out").click()
    op = sign_in(server, "operator")
    to_packages(op)
    expect(op.get_by_test_id(f"package-{held['id']}")).to_contain_text("2,250.00")
    expect(op.get_by_test_id(f"buy-{l20['id']}")).to_have_count(0)

"""Organisation members in the web console, in real Chromium against a real ``suanli serve --demo``:
the demo tenant (its organisation's admin) adds a developer with a monthly limit (its token shown
once), is refused a bad limit (the API's message next to the field), raises the limit, removes a
member (its token stops at once); a developer's token signs in without the Members page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

L20_10H = {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 10}


def test_an_admin_manages_members_and_their_limits(server: Any, sign_in: Callable[..., Page], browser: Browser,
                                                   shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "tenant")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Members", exact=True).click()
    expect(page.get_by_test_id("members")).to_contain_text("No members yet.")

    # a limit the API refuses: its message next to the field, nobody added
    form = page.get_by_test_id("member-add")
    form.get_by_label("Name").fill("ana")
    form.get_by_label("Role").select_option("developer")
    form.get_by_label("Monthly limit").fill("-5")
    form.get_by_role("button", name="Add member").click()
    expect(form.locator('[data-field="spend_limit"]').get_by_test_id("field-error-spend_limit")).to_contain_text(">= 0")
    assert server.api("tenant", "GET", "/v1/members").json() == []

    form.get_by_label("Monthly limit").fill("30")
    form.get_by_role("button", name="Add member").click()
    token = page.get_by_test_id("new-member-token").inner_text().strip()
    assert token.startswith("sl_")
    expect(page.get_by_test_id("member-ana")).to_contain_text("developer")

    # the developer orders within the limit; the next order is refused with the figures
    assert server.api(token, "POST", "/v1/orders", json=L20_10H).status_code == 201
    over = server.api(token, "POST", "/v1/orders", json=L20_10H)
    assert over.status_code == 409 and "spent 26.00" in over.json()["error"]["message"]
    page.get_by_role("button", name="Refresh").click()
    row = page.get_by_test_id("member-ana")
    expect(row).to_contain_text("26.00")

    # the admin raises the limit in the row; then the order fits
    row.get_by_test_id("limit-ana").locator("input").fill("100")
    row.get_by_role("button", name="Set").click()
    expect(page.get_by_test_id("flash")).to_contain_text("limit 100")
    assert server.api(token, "POST", "/v1/orders", json=L20_10H).status_code == 201
    shots(page, "tenant-members")

    # a developer signs in without the Members page
    context = browser.new_context()
    dev = context.new_page()
    dev.goto(server.console)
    dev.get_by_label("API token").fill(token)
    dev.get_by_role("button", name="Sign in").click()
    expect(dev.get_by_test_id("who")).to_have_text("ana")
    expect(dev.get_by_role("navigation", name="main").get_by_role("link", name="Leases", exact=True)).to_be_visible()
    expect(dev.get_by_role("navigation", name="main").get_by_role("link", name="Members", exact=True)).to_have_count(0)
    context.close()

    # removing: its token stops at once
    page.get_by_test_id("remove-ana").click()
    page.get_by_test_id("remove-confirm").get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("flash")).to_contain_text("no longer work")
    expect(page.get_by_test_id("members")).to_contain_text("No members yet.")
    assert server.api(token, "GET", "/v1/me").status_code == 401

"""The order queue in a real Chromium against a real ``suanli serve --demo`` (docs/queue.md): the tenant's
order form answers "when could it start?" as it changes; an order that does not fit, with "wait until",
waits and the form says its position and estimated start; the waiting order is listed and can be
cancelled; the same page in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def test_tenant_asks_when_and_waits_in_the_queue(server: Any, browser: Browser) -> None:
    for _ in range(2):  # the A800 servers are taken for an hour
        r = server.api("tenant", "POST", "/v1/orders", json={"form": "server", "models": ["A800"], "hours": 1})
        assert r.status_code == 201, r.text
    t = _signed_in(browser, server, "tenant")
    t.goto(f"{server.console}#/order?form=gpu&model=A800")
    expect(t.get_by_test_id("order-form")).to_be_visible()
    expect(t.get_by_test_id("queue")).to_contain_text("No order of yours is waiting")
    t.locator("#f-quantity").fill("8")
    t.locator("#f-hours").fill("1")
    expect(t.get_by_test_id("when-answer")).to_contain_text("Earliest start")
    start = t.get_by_test_id("when-answer").get_attribute("data-start")
    asked = server.api("tenant", "POST", "/v1/orders/when",
                       json={"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 1}).json()
    assert start and asked["start"] and start[:16] == asked["start"][:16]
    until = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    t.locator("#f-wait_until").fill(until)
    t.locator("form[data-testid=order-form] button[type=submit]").click()
    expect(t.get_by_test_id("order-queued")).to_contain_text("waiting in the queue: position 1")
    waiting = server.api("tenant", "GET", "/v1/queue").json()
    assert len(waiting) == 1
    row = t.get_by_test_id(f"queued-{waiting[0]['order_id']}")
    expect(row).to_be_visible()
    row.get_by_role("button").click()
    expect(t.get_by_test_id("flash")).to_contain_text("cancelled")
    assert server.api("tenant", "GET", "/v1/queue").json() == []

    t.get_by_test_id("lang-zh-CN").click()
    t.goto(f"{server.console}#/order?form=gpu&model=A800")
    expect(t.get_by_test_id("queue")).to_contain_text("您没有排队中的订单")
    expect(t.get_by_test_id("when")).to_contain_text("最早何时开始")


def test_operator_sees_the_queue_and_sets_a_weight(server: Any, browser: Browser) -> None:
    for _ in range(2):
        server.api("tenant", "POST", "/v1/orders", json={"form": "server", "models": ["A800"], "hours": 1})
    until = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    r = server.api("tenant", "POST", "/v1/orders", json={"form": "server", "models": ["A800"], "hours": 1,
                                                         "wait_until": until})
    assert r.status_code == 202, r.text
    op = _signed_in(browser, server, "operator")
    op.goto(f"{server.console}#/queue")
    expect(op.get_by_test_id("queue-all-table")).to_contain_text(r.json()["id"])
    expect(op.get_by_test_id("queue-weights")).to_contain_text("every tenant has weight 1")
    tenant = server.api("tenant", "GET", "/v1/me").json()["name"]
    op.locator("#qw-tenant").fill(tenant)
    op.locator("#qw-weight").fill("0")
    op.get_by_test_id("queue-weight-save").click()
    expect(op.get_by_test_id("queue-weight-error")).to_contain_text("between 0.01 and 1000")
    assert server.api("operator", "GET", "/v1/queue/weights").json() == []
    op.locator("#qw-weight").fill("2")
    op.locator("#qw-allow_high").select_option("true")
    op.get_by_test_id("queue-weight-save").click()
    expect(op.get_by_test_id("queue-weights-table")).to_contain_text(tenant)
    assert server.api("operator", "GET", "/v1/queue/weights").json()[0]["allow_high"] is True

"""A tenant in the web console, in real Chromium against a real server: offers, an order, the
lease with its devices, ending it, the invoice draft; bad input; other tenants' data stays hidden."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def wait_until(cond: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    """Wait for a condition on the real server, bounded (polling, not a fixed sleep)."""
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.2)


def order_form(page: Page) -> None:
    page.get_by_role("navigation", name="main").get_by_role("link", name="Order", exact=True).click()
    expect(page.get_by_test_id("order-form")).to_be_visible()


def test_tenant_orders_a_gpu_sees_the_lease_ends_it_and_sees_the_draft(
        serve: Callable[..., Any], db_url: str | None, sign_in: Callable[..., Page],
        shots: Callable[[Page, str], None]) -> None:
    srv = serve(db_url)
    page = sign_in(srv, "tenant")
    expect(page).to_have_url(re.compile(r"/console/#/offers$"))

    # offers: every (model, site) the API offers, with both price units
    api_offers = srv.api("tenant", "GET", "/v1/offers").json()
    rows = page.get_by_test_id("offers").locator("tbody tr")
    expect(rows).to_have_count(len(api_offers))
    h800 = next(o for o in api_offers if o["model"] == "H800")
    row = page.get_by_test_id(f"offer-H800-{h800['site']}")
    expect(row).to_contain_text("90,000.00")  # 元/P/年 as the demo price book sets it
    expect(row).to_contain_text(f"{h800['free_devices']} / {h800['devices']}")
    shots(page, "tenant-offers")

    # order 1 H800 from the offer row
    row.get_by_role("link", name="Order").click()
    expect(page.locator("#f-model")).to_have_value("H800")
    page.locator("#f-quantity").fill("1")
    page.get_by_role("button", name="Place order").click()

    expect(page).to_have_url(re.compile(r"#/leases/[^/]+$"))
    lease_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("flash")).to_contain_text(f"lease {lease_id}")
    expect(page.get_by_test_id("lease-facts")).to_contain_text("active")
    devices = page.get_by_test_id("devices").locator("tbody tr")
    expect(devices).to_have_count(1)
    lease = srv.api("tenant", "GET", f"/v1/leases/{lease_id}").json()
    assert lease["state"] == "active" and len(lease["allocations"]) == 1
    expect(devices.first).to_contain_text(lease["allocations"][0]["node"])
    expect(devices.first).to_contain_text("H800")
    expect(page.get_by_test_id("events")).to_contain_text("active")
    shots(page, "tenant-lease-active")

    # the lease list shows it active
    page.get_by_role("link", name="Leases").click()
    expect(page.get_by_test_id(f"lease-{lease_id}")).to_contain_text("active")

    # end it (with the in-page confirmation) once it has run a metered second: a lease ended in its
    # first second bills nothing (docs/billing.md), and this test wants a line on the draft
    period = lease["start"][:7]
    wait_until(lambda: any(x["lease"] == lease_id for x in
                           srv.api("tenant", "GET", f"/v1/invoices/{period}").json()["lines"]),
               "the running lease to show on the draft to date")
    page.get_by_test_id(f"lease-{lease_id}").get_by_role("link", name=lease_id).click()
    page.get_by_role("button", name="End lease").click()
    expect(page.get_by_test_id("end-confirm")).to_be_visible()
    page.get_by_role("button", name="End now").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"Lease {lease_id} ended")
    expect(page.get_by_test_id("lease-facts")).to_contain_text("ended")
    expect(page.get_by_role("button", name="End lease")).to_have_count(0)
    expect(page.get_by_test_id("events")).to_contain_text("ended in the console by demo-tenant")
    assert srv.api("tenant", "GET", f"/v1/leases/{lease_id}").json()["state"] == "ended"

    # the invoice draft has a line for the lease, as the API rates it
    page.get_by_role("link", name="Billing").click()
    lines = page.get_by_test_id("invoice-lines").locator("tbody tr")
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text(lease_id)
    expect(lines.first).to_contain_text("H800")
    assert page.locator("input[name=period]").input_value() == period
    draft = srv.api("tenant", "GET", f"/v1/invoices/{period}").json()
    (line,) = [x for x in draft["lines"] if x["lease"] == lease_id]
    expect(lines.first).to_contain_text(f"{Decimal(line['amount']):,.2f}")
    expect(page.get_by_test_id("amount-due")).to_have_text(f"¥{Decimal(draft['amount_due']):,.2f}")
    expect(page.get_by_test_id("wallet")).to_be_visible()
    shots(page, "tenant-billing")


def test_bad_orders_show_the_api_error_and_create_nothing(server: Any, sign_in: Callable[..., Page],
                                                         shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "tenant")
    order_form(page)
    page.locator("#f-model").select_option("H800")
    page.locator("#f-quantity").fill("9")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("order-error")).to_contain_text("no node can hold 9 devices")
    shots(page, "tenant-order-error")

    page.locator("#f-quantity").fill("two")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("order-error")).to_contain_text("quantity")
    expect(page.get_by_test_id("order-error")).to_contain_text("integer")

    page.locator("#f-form").select_option("slice")
    expect(page.locator("#f-quantity")).to_be_hidden()
    page.locator("#f-share_pct").fill("250")
    page.locator("#f-memory_mib").fill("8192")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("order-error")).to_contain_text("share")
    expect(page).to_have_url(re.compile(r"#/order$"))

    assert server.api("tenant", "GET", "/v1/leases").json()["items"] == []
    page.get_by_role("link", name="Leases").click()
    expect(page.get_by_test_id("leases")).to_contain_text("No leases yet")


def test_a_tenant_sees_only_its_own_leases(server: Any, sign_in: Callable[..., Page]) -> None:
    mine = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert mine.status_code == 201, mine.text
    other = server.api("operator", "POST", "/v1/accounts", json={"name": "other-co", "role": "tenant"})
    assert other.status_code == 201, other.text
    theirs = server.api(other.json()["token"], "POST", "/v1/orders", json={"form": "gpu", "quantity": 2})
    assert theirs.status_code == 201, theirs.text
    their_lease = theirs.json()["lease_id"]

    page = sign_in(server, "tenant")
    page.get_by_role("link", name="Leases").click()
    rows = page.get_by_test_id("leases").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(mine.json()["lease_id"])
    expect(page.get_by_test_id("leases")).not_to_contain_text(their_lease)

    page.goto(f"{server.console}#/leases/{their_lease}")
    expect(page.get_by_test_id("error")).to_contain_text("404")
    expect(page.get_by_test_id("lease-facts")).to_have_count(0)


def test_a_tenant_token_cannot_open_operator_pages(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "tenant")
    expect(page.get_by_role("navigation", name="main").get_by_role("link", name="Fleet")).to_have_count(0)
    for path in ("fleet", "all-leases", "revenue", "statement"):
        page.goto(f"{server.console}#/{path}")
        expect(page.get_by_test_id("forbidden")).to_contain_text("you are signed in as demo-tenant, a tenant")
        expect(page.locator("main")).not_to_contain_text("sh-h800-01")
    # and the API behind the page refuses the token itself, whatever a page would do
    status = page.evaluate("""async () => (await fetch('/v1/nodes', {headers: {Authorization:
        'Bearer ' + sessionStorage.getItem('suanli.token')}})).status""")
    assert status == 403


def test_a_bad_token_is_refused_at_sign_in(server: Any, page: Page) -> None:
    page.goto(server.console)
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("401")
    expect(page.get_by_test_id("who")).to_have_count(0)

"""A tenant in the web console, in real Chromium against a real server: offers, an order, the
lease with its devices, ending it, the invoice draft; bad input; other tenants' data stays hidden."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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


# --- issue 13: free counts, the live quote, cost to date, banners, paying from the wallet, zh-CN -----------


def test_offers_show_the_apis_free_counts_and_the_order_form_quotes_live(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    srv = server
    page = sign_in(srv, "tenant")
    api_offers = srv.api("tenant", "GET", "/v1/offers").json()
    for o in api_offers:
        expect(page.get_by_test_id(f"free-{o['model']}-{o['site']}")).to_have_text(f"{o['free_devices']} / {o['devices']}")
    h800 = next(o for o in api_offers if o["model"] == "H800")
    page.get_by_test_id(f"order-H800-{h800['site']}").click()
    expect(page.get_by_test_id("order-free")).to_have_attribute("data-free", str(h800["free_devices"]))
    page.locator("#f-quantity").fill("2")
    page.locator("#f-hours").fill("10")
    quote = page.get_by_test_id("quote")
    expect(quote).to_have_attribute("data-state", "ok")
    wait_until(lambda: '"hours":"10"' in (quote.get_attribute("data-body") or ""), "the quote for 2 devices, 10 hours")
    body = quote.get_attribute("data-body")
    assert body and '"quantity":2' in body
    api = srv.api("tenant", "POST", "/v1/quotes", json=json.loads(body))
    assert api.status_code == 200, api.text
    q = api.json()
    assert q["term_total"] is not None
    expect(page.get_by_test_id("quote-total")).to_have_text(f"¥{Decimal(q['term_total']):,.2f}")
    line = q["lines"][0]
    expect(page.get_by_test_id("quote-p-year").first).to_have_text(f"{Decimal(line['p_year']).quantize(Decimal('0.01')):,.2f}")
    expect(page.get_by_test_id("quote-validity")).to_contain_text("Binding if you order now")
    shots(page, "tenant-order-quote-en")
    # bad input: the quote's refusal shows next to the field, nothing is ordered
    page.locator("#f-quantity").fill("two")
    expect(quote).to_have_attribute("data-state", "error")
    expect(page.get_by_test_id("quote-error")).to_contain_text("quantity")
    expect(page.get_by_test_id("field-error-quantity")).to_be_visible()
    assert srv.api("tenant", "GET", "/v1/leases").json()["items"] == []
    # in Chinese
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_test_id("order-form")).to_contain_text("租期（小时）")
    page.locator("#f-quantity").fill("1")
    expect(page.get_by_test_id("quote")).to_contain_text("价格报价")
    expect(page.get_by_test_id("quote")).to_have_attribute("data-state", "ok")
    shots(page, "tenant-order-quote-zh")


def test_cost_to_date_per_lease_equals_the_api(server: Any, sign_in: Callable[..., Page]) -> None:
    srv = server
    made = srv.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["H800"]})
    assert made.status_code == 201, made.text
    lease_id = made.json()["lease_id"]
    wait_until(lambda: Decimal(srv.api("tenant", "GET", "/v1/lease-costs").json()["items"][0]["cost_to_date"]) > 0,
               "the lease to cost something")
    assert srv.api("tenant", "POST", f"/v1/leases/{lease_id}/end").status_code == 200
    cost = srv.api("tenant", "GET", "/v1/lease-costs").json()["items"][0]
    assert cost["lease"] == lease_id
    draft = srv.api("tenant", "GET", f"/v1/billing/preview/{cost['months'][-1]['period']}").json()
    assert Decimal(cost["cost_to_date"]) == sum(Decimal(x["amount"]) for x in draft["lines"] if x["lease"] == lease_id)
    page = sign_in(srv, "tenant")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Leases").click()
    expect(page.get_by_test_id(f"cost-{lease_id}")).to_have_text(f"¥{Decimal(cost['cost_to_date']):,.2f}")
    page.get_by_test_id(f"lease-{lease_id}").get_by_role("link", name=lease_id).click()
    expect(page.get_by_test_id("lease-cost")).to_have_text(f"¥{Decimal(cost['cost_to_date']):,.2f}")


def _unpaid_invoice(srv: Any) -> dict[str, Any]:
    """Usage of the tenant last month (10 L20 device-hours), invoiced: issued and unpaid (postpaid, empty wallet)."""
    now = datetime.now(UTC)
    last = now.replace(day=1) - timedelta(days=1)
    ev = {"id": "console-pay-1", "source": "test", "type": "device_seconds", "subject": "demo-tenant",
          "time": last.replace(hour=10, minute=0, second=0, microsecond=0).isoformat().replace("+00:00", "Z"),
          "data": {"quantity": "36000", "model": "L20", "site": "sh-east-1"}}
    assert srv.api("operator", "POST", "/v1/usage/events", json=ev).status_code == 202
    r = srv.api("operator", "POST", "/v1/billing/invoices", json={"tenant": "demo-tenant", "period": last.strftime("%Y-%m")})
    assert r.status_code == 201, r.text
    inv: dict[str, Any] = r.json()
    assert inv["status"] == "issued" and Decimal(inv["amount_due"]) > 0
    return inv


def test_banners_show_the_state_and_pay_settles_the_invoice_from_the_wallet(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    srv = server
    inv = _unpaid_invoice(srv)
    due = Decimal(inv["amount_due"])
    page = sign_in(srv, "tenant")
    expect(page.get_by_test_id("banner-unpaid")).to_contain_text(f"1 unpaid invoice(s), ¥{due:,.2f} due")
    expect(page.get_by_test_id("banner-low-balance")).to_have_count(0)
    # a short wallet: the refusal says what to do; nothing is paid
    page.get_by_test_id("banner-pay").click()
    page.get_by_test_id(f"pay-{inv['id']}").click()
    page.get_by_test_id(f"pay-now-{inv['id']}").click()
    expect(page.get_by_test_id("pay-error")).to_contain_text("top the wallet up")
    assert srv.api("tenant", "GET", f"/v1/billing/invoices/{inv['id']}").json()["status"] == "issued"
    # topped up: Pay settles it; the wallet goes down by exactly the amount due
    assert srv.api("operator", "POST", "/v1/wallet/top-ups", json={"tenant": "demo-tenant", "amount": "100"}).status_code == 201
    page.get_by_role("button", name="Refresh").click()
    page.get_by_test_id(f"pay-{inv['id']}").click()
    expect(page.get_by_test_id("pay-question")).to_contain_text(f"¥{due:,.2f}")
    page.get_by_test_id(f"pay-now-{inv['id']}").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"Invoice {inv['id']} paid from the wallet")
    assert srv.api("tenant", "GET", f"/v1/billing/invoices/{inv['id']}").json()["status"] == "paid"
    assert Decimal(srv.api("tenant", "GET", "/v1/wallet").json()["balance"]) == Decimal(100) - due
    expect(page.get_by_test_id("banner-unpaid")).to_have_count(0)
    expect(page.get_by_test_id("wallet-balance")).to_contain_text(f"¥{Decimal(100) - due:,.2f}")
    # low balance: prepaid with a long warning runway, a lease burning: the banner says so on every page
    assert srv.api("operator", "PUT", "/v1/wallet/policy", json={"tenant": "demo-tenant", "warn_hours": "1000",
                                                                 "suspend_hours": "0"}).status_code == 200
    assert srv.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}).status_code == 201
    assert srv.api("operator", "POST", "/v1/wallet/check").status_code == 200
    assert srv.api("tenant", "GET", "/v1/wallet").json()["standing"] == "warn"
    page.get_by_role("navigation", name="main").get_by_role("link", name="Offers").click()
    expect(page.get_by_test_id("banner-low-balance")).to_contain_text("Low balance")
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_test_id("banner-low-balance")).to_contain_text("余额不足")
    shots(page, "tenant-banners-zh")
    # suspended: the runway is below the suspension threshold; the banner says what happened and what to do
    assert srv.api("operator", "PUT", "/v1/wallet/policy", json={"tenant": "demo-tenant", "warn_hours": "1000",
                                                                 "suspend_hours": "999"}).status_code == 200
    assert srv.api("operator", "POST", "/v1/wallet/check").status_code == 200
    wallet = srv.api("tenant", "GET", "/v1/wallet").json()
    assert wallet["standing"] == "suspend" and len(wallet["suspended_leases"]) == 1
    page.get_by_test_id("lang-en").click()
    page.get_by_role("navigation", name="main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_test_id("banner-suspended")).to_contain_text("Account suspended for low balance: 1 lease(s)")
    expect(page.get_by_test_id("banner-suspended")).to_contain_text("Top up the wallet")
    expect(page.get_by_test_id("banner-low-balance")).to_have_count(0)


def test_vouchers_page_shows_what_the_tenant_holds(server: Any, sign_in: Callable[..., Page]) -> None:
    srv = server
    now = datetime.now(UTC)
    made = srv.api("operator", "POST", "/v1/vouchers", json={
        "tenant": "demo-tenant", "issuer": "city-x", "percent": "0.3", "cap": "500",
        "valid_from": (now - timedelta(days=1)).isoformat(), "valid_to": (now + timedelta(days=60)).isoformat()})
    assert made.status_code == 201, made.text
    v = made.json()
    page = sign_in(srv, "tenant")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Vouchers").click()
    expect(page.get_by_test_id(f"voucher-left-{v['id']}")).to_have_text(f"¥{Decimal(v['left']):,.2f}")
    expect(page.get_by_test_id("vouchers-left")).to_contain_text(f"¥{Decimal(v['left']):,.2f}")
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.locator("main")).to_contain_text("算力券")

"""The operator's actions in the web console (real Chromium, real ``suanli serve --demo``): node
state with a reason, list prices in either unit, wallet top-ups and credits, issuing an invoice for
a month that is over, voiding it, recording one paid; the API's message on bad input; and the
tenant downloading its issued invoice (HTML, CSV, JSON) and its draft."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HOURS_PER_YEAR = Decimal(8760)


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="main").get_by_role("link", name=name, exact=True).click()


def money2(value: str) -> str:
    return f"{Decimal(value):,.2f}"


def money4(value: str) -> str:
    """As the console shows a device-hour price: at least 2, at most 4 places, half up."""
    d = Decimal(value)
    places = min(max(-d.as_tuple().exponent if isinstance(d.as_tuple().exponent, int) else 0, 2), 4)
    return f"{d.quantize(Decimal(1).scaleb(-places), rounding='ROUND_HALF_UP'):,.{places}f}"


def previous_month(now: datetime) -> str:
    first = now.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def test_operator_marks_a_node_down_with_a_reason_and_back(server: Any, sign_in: Callable[..., Page],
                                                           shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/fleet")
    expect(page.get_by_test_id("node-sz-4090-03")).to_contain_text("available")
    page.get_by_test_id("change-sz-4090-03").click()
    expect(page.locator("#ns-node")).to_have_value("sz-4090-03")
    page.locator("#ns-state").select_option("down")
    page.locator("#ns-reason").fill("PSU failure, ticket 42")
    page.get_by_role("button", name="Apply").click()
    # nothing is sent before the confirmation
    expect(page.get_by_test_id("node-state-confirm-question")).to_contain_text("Mark sz-4090-03 down (PSU failure, ticket 42)?")
    assert next(n for n in server.api("operator", "GET", "/v1/nodes").json() if n["name"] == "sz-4090-03")["state"] == "available"
    shots(page, "operator-node-down-confirm")
    page.get_by_test_id("node-state-confirm").get_by_role("button", name="Confirm").click()

    expect(page.get_by_test_id("flash")).to_contain_text("Node sz-4090-03 is down (PSU failure, ticket 42)")
    row = page.get_by_test_id("node-sz-4090-03")
    expect(row.get_by_test_id("state")).to_have_text("down")
    expect(row).to_contain_text("PSU failure, ticket 42")
    expect(page.get_by_test_id("card-nodes")).to_contain_text("1 down")
    node = next(n for n in server.api("operator", "GET", "/v1/nodes").json() if n["name"] == "sz-4090-03")
    assert (node["state"], node["state_reason"]) == ("down", "PSU failure, ticket 42")
    # a node that is not available is not offered: the RTX-4090 offer lost its 8 devices
    rtx = next(o for o in server.api("operator", "GET", "/v1/offers").json() if o["model"] == "RTX-4090")
    expect(page.get_by_test_id("fleet-offers")).to_contain_text(f"{rtx['free_devices']} / {rtx['devices']}")
    shots(page, "operator-node-down")

    # back to available: no confirmation needed to put capacity back
    page.get_by_test_id("change-sz-4090-03").click()
    page.locator("#ns-state").select_option("available")
    page.locator("#ns-reason").fill("")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("node-sz-4090-03").get_by_test_id("state")).to_have_text("available")
    expect(page.get_by_test_id("card-nodes")).not_to_contain_text("down")


def test_a_supplier_takes_its_own_node_into_maintenance(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "supplier")
    nav(page, "My nodes")
    page.get_by_test_id("change-sh-h800-02").click()
    page.locator("#ns-state").select_option("maintenance")
    page.locator("#ns-reason").fill("firmware update")
    page.get_by_role("button", name="Apply").click()
    page.get_by_test_id("node-state-confirm").get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("node-sh-h800-02")).to_contain_text("maintenance")
    expect(page.get_by_test_id("node-sh-h800-02")).to_contain_text("firmware update")
    # another supplier's node is not in its list, and the API refuses it anyway
    expect(page.get_by_test_id("node-sz-4090-03")).to_have_count(0)
    assert server.api("supplier", "POST", "/v1/nodes/sz-4090-03/state", json={"state": "down"}).status_code == 404


def test_operator_sets_prices_in_both_units_and_offers_show_them(server: Any, sign_in: Callable[..., Page],
                                                                 shots: Callable[[Page, str], None]) -> None:
    catalog = {m["name"]: Decimal(m["p"]) for m in server.api("operator", "GET", "/v1/catalog").json()}
    page = sign_in(server, "operator")
    nav(page, "Prices")
    form = page.get_by_test_id("price-form")
    form.locator("#p-model").select_option("L20")
    form.locator("#p-site").select_option("sz-edge-1")
    form.locator("#p-unit").select_option("device_hour")
    form.locator("#p-amount").fill("3,65")
    page.get_by_role("button", name="Set price…").click()
    page.get_by_role("button", name="Set price", exact=True).click()
    expect(page.get_by_test_id("price-error")).to_contain_text("amount")  # the API's own message
    assert not [e for e in server.api("operator", "GET", "/v1/prices").json() if e["model"] == "L20" and e["site"]]

    form.locator("#p-amount").fill("3.65")
    page.get_by_role("button", name="Set price…").click()
    expect(page.get_by_test_id("price-confirm-question")).to_contain_text("Set the list price of L20 at sz-edge-1 to 3.65")
    page.get_by_role("button", name="Set price", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text("L20 at sz-edge-1: 3.65 元/device-hour")
    p_year_l20 = Decimal("3.65") * HOURS_PER_YEAR / catalog["L20"]

    # the same price in 元/P/年 for H800 at every site
    form.locator("#p-model").select_option("H800")
    form.locator("#p-unit").select_option("p_year")
    form.locator("#p-amount").fill("120000")
    page.get_by_role("button", name="Set price…").click()
    page.get_by_role("button", name="Set price", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text("= 120,000.00 元/P/年")
    dh_h800 = Decimal(120000) * catalog["H800"] / HOURS_PER_YEAR

    # a change scheduled for tomorrow is listed as scheduled and leaves today's offer alone
    tomorrow = (datetime.now() + timedelta(days=1)).replace(second=0, microsecond=0)  # the browser's local time
    form.locator("#p-model").select_option("A800")
    form.locator("#p-unit").select_option("device_hour")
    form.locator("#p-amount").fill("99")
    form.locator("#p-effective_from").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Set price…").click()
    page.get_by_role("button", name="Set price", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text("A800: 99.00 元/device-hour")
    book = page.get_by_test_id("price-book")
    expect(book.locator("tr", has_text="A800").filter(has_text="99.00")).to_contain_text("scheduled")
    expect(book.locator("tr", has_text="A800").filter(has_text="6.50")).to_contain_text("in force")
    shots(page, "operator-prices")

    offers = {(o["model"], o["site"]): o for o in server.api("operator", "GET", "/v1/offers").json()}
    l20 = offers[("L20", "sz-edge-1")]
    assert Decimal(l20["price_device_hour"]) == Decimal("3.65")
    assert abs(Decimal(l20["price_p_year"]) - p_year_l20) < Decimal("0.000001")
    h800 = next(o for (m, _s), o in offers.items() if m == "H800")
    assert abs(Decimal(h800["price_device_hour"]) - dh_h800) < Decimal("0.000001")
    assert Decimal(offers[("A800", "sh-east-1")]["price_device_hour"]) == Decimal("6.5")

    nav(page, "Offers")
    row = page.get_by_test_id("offer-L20-sz-edge-1")
    expect(row).to_contain_text("3.65")
    expect(row).to_contain_text(money2(str(p_year_l20)))
    row = page.get_by_test_id(f"offer-H800-{h800['site']}")
    expect(row).to_contain_text("120,000.00")
    expect(row).to_contain_text(money4(h800["price_device_hour"]))
    expect(page.get_by_test_id("offer-A800-sh-east-1")).to_contain_text("6.50")
    shots(page, "operator-offers-after-prices")


def test_operator_money_actions_and_the_tenant_downloads_its_invoice(
        serve: Callable[..., Any], db_url: str | None, sign_in: Callable[..., Page], page: Page,
        shots: Callable[[Page, str], None]) -> None:
    server = serve(db_url)  # on SQLite and on PostgreSQL: money goes through both stores
    # A real-clock server cannot run a lease in a month that is over, so last month's usage is
    # reported the way a metering agent would report it: one device_seconds event (2 L20 device-hours).
    period = previous_month(datetime.now(UTC))
    r = server.api("operator", "POST", "/v1/usage/events", json={
        "id": "console-test-1", "source": "console-test", "type": "device_seconds", "subject": "demo-tenant",
        "time": f"{period}-15T10:00:00Z", "data": {"quantity": "7200", "model": "L20", "site": "sz-edge-1"}})
    assert r.status_code == 202, r.text
    draft = server.api("operator", "GET", f"/v1/invoices/{period}", params={"tenant": "demo-tenant"}).json()
    assert draft["status"] == "preview" and Decimal(draft["total"]) > 0

    sign_in(server, "operator")
    nav(page, "Tenants")
    expect(page.get_by_test_id("tenant-demo-tenant")).to_be_visible()
    page.get_by_test_id("open-demo-tenant").click()
    expect(page.locator("h1")).to_have_text("Tenant demo-tenant")

    # the current month is not over: the API says so, nothing is issued
    issue = page.get_by_test_id("issue-panel")
    issue.locator("#inv-period").fill(datetime.now(UTC).strftime("%Y-%m"))
    issue.get_by_role("button", name="Issue…").click()
    issue.get_by_role("button", name="Issue invoice").click()
    expect(page.get_by_test_id("issue-error")).to_contain_text("is not over")
    assert server.api("operator", "GET", "/v1/billing/invoices").json() == []

    # issue last month's
    issue.locator("#inv-period").fill(period)
    issue.get_by_role("button", name="Issue…").click()
    expect(page.get_by_test_id("issue-confirm-question")).to_contain_text(f"Issue demo-tenant's invoice for {period}?")
    issue.get_by_role("button", name="Issue invoice").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"for {period} issued: total ¥{money2(draft['total'])}")
    (first,) = server.api("operator", "GET", "/v1/billing/invoices").json()
    assert first["status"] == "issued" and first["total"] == draft["total"]
    expect(page.get_by_test_id(f"invoice-{first['id']}").get_by_test_id("state")).to_have_text("issued")

    # void it (a destructive action: confirm, with a reason)
    page.get_by_test_id(f"void-{first['id']}").click()
    confirm = page.get_by_test_id(f"void-confirm-{first['id']}")
    expect(confirm).to_contain_text(f"Void {first['id']}")
    confirm.get_by_role("textbox").fill("wrong tax rate")
    confirm.get_by_role("button", name="Void invoice").click()
    expect(page.get_by_test_id(f"invoice-{first['id']}").get_by_test_id("state")).to_have_text("void")
    assert server.api("operator", "GET", f"/v1/billing/invoices/{first['id']}").json()["status"] == "void"
    expect(page.get_by_test_id(f"void-{first['id']}")).to_have_count(0)

    # issue again, then record it paid
    page.get_by_test_id("issue-panel").get_by_role("button", name="Issue…").click()
    page.get_by_test_id("issue-panel").get_by_role("button", name="Issue invoice").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"for {period} issued: total")
    second = next(i for i in server.api("operator", "GET", "/v1/billing/invoices").json() if i["status"] == "issued")
    page.get_by_test_id(f"pay-{second['id']}").click()
    expect(page.get_by_test_id(f"pay-confirm-{second['id']}")).to_contain_text(f"Record ¥{money2(second['amount_due'])} received")
    page.get_by_test_id(f"pay-confirm-{second['id']}").get_by_role("button", name="Record payment").click()
    expect(page.get_by_test_id(f"invoice-{second['id']}").get_by_test_id("state")).to_have_text("paid")
    assert server.api("operator", "GET", f"/v1/billing/invoices/{second['id']}").json()["status"] == "paid"

    # wallet top-up and a credit; bad amounts get the API's message and change nothing
    top = page.get_by_test_id("top-up-panel")
    top.locator("#top-amount").fill("lots")
    top.get_by_role("button", name="Top up…").click()
    top.get_by_role("button", name="Record top-up").click()
    expect(page.get_by_test_id("top-up-error")).to_contain_text("amount")
    assert Decimal(server.api("operator", "GET", "/v1/wallet", params={"tenant": "demo-tenant"}).json()["balance"]) == 0
    top.locator("#top-amount").fill("500")
    top.locator("#top-reference").fill("bank 2026-001")
    top.get_by_role("button", name="Top up…").click()
    top.get_by_role("button", name="Record top-up").click()
    expect(page.get_by_test_id("t-balance")).to_contain_text("¥500.00")
    credit = page.get_by_test_id("credit-panel")
    credit.locator("#cr-amount").fill("20")
    credit.locator("#cr-reason").fill("outage on 11-02")
    credit.get_by_role("button", name="Grant…").click()
    credit.get_by_role("button", name="Grant credit").click()
    expect(page.get_by_test_id("t-credits")).to_contain_text("¥20.00")
    wallet = server.api("operator", "GET", "/v1/wallet", params={"tenant": "demo-tenant"}).json()
    assert (Decimal(wallet["balance"]), Decimal(wallet["credits"])) == (Decimal(500), Decimal(20))
    shots(page, "operator-tenant-money")

    # the tenant downloads its paid invoice in each format, through the API with its token
    page.get_by_role("button", name="Sign out").click()
    sign_in(server, "tenant")
    nav(page, "Billing")
    row = page.get_by_test_id(f"invoice-{second['id']}")
    expect(row).to_contain_text("paid")
    files: dict[str, Path] = {}
    for fmt in ("html", "csv", "json"):
        with page.expect_download() as info:
            row.get_by_test_id(f"download-{fmt}-{second['id']}").click()
        dl = info.value
        assert dl.suggested_filename == f"suanli-demo-tenant-{period}-{second['id']}.{fmt}"
        assert dl.failure() is None
        files[fmt] = Path(dl.path())
    doc = json.loads(files["json"].read_text())
    assert (doc["id"], doc["status"], doc["total"]) == (second["id"], "paid", second["total"])
    assert doc["lines"][0].get("supplier_share") is None  # the tenant's view: no supplier share
    html = files["html"].read_text()
    assert f"Invoice {second['id']}" in html and money2(second["total"]) in html
    rows = list(csv.reader(io.StringIO(files["csv"].read_text())))
    assert len(rows) >= 2 and any("L20" in cell for r in rows for cell in r)
    # and the current month's draft, as JSON
    with page.expect_download() as info:
        page.get_by_test_id("download-draft").click()
    month = datetime.now(UTC).strftime("%Y-%m")
    assert info.value.suggested_filename == f"suanli-demo-tenant-{month}-draft.json"
    assert json.loads(Path(info.value.path()).read_text())["period"] == month
    expect(page.get_by_test_id("download-error")).to_have_count(0)
    shots(page, "tenant-billing-downloads")

    # the issued invoice's own page: its lines as the ledger holds them
    row.get_by_role("link", name=second["id"]).click()
    expect(page.get_by_test_id("invoice-facts")).to_contain_text("paid")
    lines = page.get_by_test_id("invoice-lines").locator("tbody tr")
    expect(lines).to_have_count(len(doc["lines"]))
    expect(lines.first).to_contain_text("L20")
    expect(lines.first).to_contain_text(money2(doc["lines"][0]["amount"]))
    expect(page.get_by_test_id("amount-due")).to_have_text(f"¥{money2(doc['amount_due'])}")
    shots(page, "tenant-invoice")


def test_a_tenant_cannot_use_operator_actions(server: Any, sign_in: Callable[..., Page]) -> None:
    page = sign_in(server, "tenant")
    for path in ("prices", "tenants", "tenants/demo-tenant"):
        page.goto(f"{server.console}#/{path}")
        expect(page.get_by_test_id("forbidden")).to_contain_text("This page is for operator accounts")
    navbar = page.get_by_role("navigation", name="main")
    for name in ("Prices", "Tenants", "Fleet"):
        expect(navbar.get_by_role("link", name=name)).to_have_count(0)
    # the API refuses the token itself for every operator action, whatever a page would do
    calls = [("POST", "/v1/nodes/sz-4090-03/state", {"state": "down", "reason": "x"}),
             ("POST", "/v1/prices", {"model": "L20", "amount": "0.01"}),
             ("POST", "/v1/wallet/top-ups", {"tenant": "demo-tenant", "amount": "1000"}),
             ("POST", "/v1/wallet/credits", {"tenant": "demo-tenant", "amount": "1000", "reason": "x"}),
             ("POST", "/v1/billing/invoices", {"tenant": "demo-tenant", "period": "2020-01"})]
    statuses = page.evaluate("""async (calls) => Promise.all(calls.map(async ([method, path, body]) =>
        (await fetch(path, {method, body: JSON.stringify(body), headers: {'Content-Type': 'application/json',
          Authorization: 'Bearer ' + sessionStorage.getItem('suanli.token')}})).status))""", calls)
    assert statuses == [403] * len(calls), statuses
    assert next(n for n in server.api("operator", "GET", "/v1/nodes").json() if n["name"] == "sz-4090-03")["state"] == "available"
    assert Decimal(server.api("operator", "GET", "/v1/wallet", params={"tenant": "demo-tenant"}).json()["balance"]) == 0

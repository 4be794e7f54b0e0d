"""A supplier in the web console, in real Chromium against a real server: earnings to date equal the
API's and the CLI's figures, occupancy of its own nodes (the capacity series), payouts, floors, zh-CN;
tenant pages and tenants' data stay closed to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def wait_until(cond: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.2)


def cli(srv: Any, role: str, *args: str) -> Any:
    """Run the real `suanli` CLI against the server with the role's token; its --json output."""
    env = {**os.environ, "SUANLI_SERVER": srv.url, "SUANLI_TOKEN": srv.tokens[role]}
    out = subprocess.run([sys.executable, "-m", "suanli.cli.main", *args, "--json"], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def a_lease_on_the_suppliers_node(srv: Any) -> str:
    """The demo tenant rents a device of the demo supplier's (its first node's model and site), for a while, then ends it."""
    node = srv.api("supplier", "GET", "/v1/nodes").json()[0]
    made = srv.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": [node["model"]],
                                                         "sites": [node["site"]]})
    assert made.status_code == 201, made.text
    lease_id: str = made.json()["lease_id"]
    lease = srv.api("tenant", "GET", f"/v1/leases/{lease_id}").json()
    mine = {n["name"] for n in srv.api("supplier", "GET", "/v1/nodes").json()}
    assert {a["node"] for a in lease["allocations"]} <= mine
    wait_until(lambda: Decimal(srv.api("supplier", "GET", "/v1/statements/supplier/earnings").json()["provisional_share"]) > 0,
               "the supplier to earn something")
    assert srv.api("tenant", "POST", f"/v1/leases/{lease_id}/end").status_code == 200
    return lease_id


def test_earnings_to_date_equal_the_api_and_the_cli(server: Any, sign_in: Callable[..., Page],
                                                    shots: Callable[[Page, str], None]) -> None:
    srv = server
    a_lease_on_the_suppliers_node(srv)
    api = srv.api("supplier", "GET", "/v1/statements/supplier/earnings").json()
    st = cli(srv, "supplier", "statement", "supplier")
    assert Decimal(st["provisional"]["supplier_share"]) == Decimal(api["provisional_share"]) > 0
    assert Decimal(api["earned_to_date"]) == (Decimal(st["supplier_share"]) - Decimal(st["sla_share"])
                                              + Decimal(st["provisional"]["supplier_share"]))
    page = sign_in(srv, "supplier")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Earnings").click()
    expect(page.get_by_test_id("earn-to-date")).to_contain_text(f"¥{Decimal(api['earned_to_date']):,.2f}")
    expect(page.get_by_test_id("earn-provisional")).to_contain_text(f"¥{Decimal(api['provisional_share']):,.2f}")
    expect(page.get_by_test_id("earn-issued")).to_contain_text(f"¥{Decimal(api['issued_share']):,.2f}")
    chart = json.loads(page.get_by_test_id("earnings-chart").get_attribute("data-chart") or "{}")
    assert Decimal(chart["series"]["provisional"][-1]) == Decimal(api["provisional_share"])
    shots(page, "supplier-earnings-en")
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_test_id("earnings-cards")).to_contain_text("累计收益")
    shots(page, "supplier-earnings-zh")


def test_occupancy_payouts_and_floors(server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    srv = server
    a_lease_on_the_suppliers_node(srv)
    assert srv.api("operator", "POST", "/v1/engine/reconcile").status_code == 200  # a capacity sample now
    page = sign_in(srv, "supplier")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Occupancy").click()
    expect(page.get_by_test_id("occupancy-now")).to_be_visible()
    cap = srv.api("supplier", "GET", "/v1/reports/capacity", params={"by": "node"}).json()
    mine = {n["name"] for n in srv.api("supplier", "GET", "/v1/nodes").json()}
    assert {g["group"] for g in cap["groups"]} <= mine  # its own nodes only
    for g in cap["groups"]:
        expect(page.get_by_test_id(f"occ-{g['group']}")).to_be_visible()
    shots(page, "supplier-occupancy-en")
    # payouts: the operator pays what is owed on issued months; here nothing is issued, so none yet
    page.get_by_role("navigation", name="main").get_by_role("link", name="Payouts").click()
    payouts = srv.api("supplier", "GET", "/v1/payouts").json()
    if payouts:
        expect(page.get_by_test_id(f"payout-{payouts[0]['id']}")).to_be_visible()
    else:
        expect(page.get_by_test_id("payouts")).to_contain_text("No payouts yet")
    # floors: a bad value is refused next to the form; a good one is set
    page.get_by_role("navigation", name="main").get_by_role("link", name="Floors").click()
    supplier = srv.api("supplier", "GET", "/v1/me").json()["supplier"]
    floors_url = f"/v1/suppliers/{supplier}/floors"
    before = srv.api("supplier", "GET", floors_url).json()
    if before:
        expect(page.get_by_test_id("floors").locator("tbody tr")).to_have_count(len(before))
    else:
        expect(page.get_by_test_id("floors")).to_contain_text("No floor set")
    model = page.locator("#fl-model").input_value()
    assert model not in {f["model"] for f in before if Decimal(f["device_hour"]) == Decimal("3.5")}
    page.locator("#fl-device_hour").fill("-1")
    page.get_by_role("button", name="Set floor").click()
    expect(page.get_by_test_id("floor-error")).to_contain_text("device_hour")
    page.locator("#fl-device_hour").fill("3.50")
    page.get_by_role("button", name="Set floor").click()
    expect(page.get_by_test_id("floor-done")).to_contain_text("3.50")
    # the table of floors in force refreshes and equals the API (and the CLI)
    after = {f["model"]: Decimal(f["device_hour"]) for f in srv.api("supplier", "GET", floors_url).json()}
    assert len(after) >= len(before)
    assert after[model] == Decimal("3.50")
    assert {f["model"]: Decimal(f["device_hour"]) for f in cli(srv, "supplier", "floor", "list")} == after
    expect(page.get_by_test_id("floors").locator("tbody tr")).to_have_count(len(after))
    for m, v in after.items():
        places = min(max(-int(v.as_tuple().exponent), 2), 4)  # the page shows 2 to 4 decimals, as the API's
        expect(page.get_by_test_id(f"floor-price-{m}")).to_have_text(f"¥{v:,.{places}f}")


def test_a_supplier_cannot_open_tenant_pages_or_their_data(server: Any, sign_in: Callable[..., Page]) -> None:
    srv = server
    lease_id = a_lease_on_the_suppliers_node(srv)
    tenant_id = srv.api("tenant", "GET", "/v1/me").json()["id"]
    page = sign_in(srv, "supplier")
    for path in ("/billing", "/vouchers", "/order", "/leases"):
        page.goto(f"{srv.console}#{path}")
        expect(page.get_by_test_id("forbidden")).to_be_visible()
    # the lease on its node: occupancy only, no tenant, no cost, no work
    page.goto(f"{srv.console}#/leases/{lease_id}")
    expect(page.get_by_test_id("lease-facts")).to_be_visible()
    expect(page.get_by_test_id("lease-cost")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(tenant_id)
    expect(page.locator("main")).not_to_contain_text("demo-tenant")
    for method, path in (("GET", "/v1/lease-costs"), ("GET", "/v1/wallet"), ("GET", "/v1/billing/invoices")):
        assert srv.api("supplier", method, path).status_code == 403


TENANT_PAGES = ("/offers", "/order", "/leases", "/billing", "/vouchers")
SUPPLIER_PAGES = ("/earnings", "/occupancy", "/statement", "/payouts", "/nodes", "/floors")


def test_tenant_and_supplier_pages_fit_1024_px_in_both_languages(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    """No horizontal scroll of the page at 1024 px (wide tables scroll inside their own box), and no
    message key shown instead of its text, in English and in Chinese."""
    srv = server
    a_lease_on_the_suppliers_node(srv)
    for role, pages in (("tenant", TENANT_PAGES), ("supplier", SUPPLIER_PAGES)):
        page = sign_in(srv, role)
        page.set_viewport_size({"width": 1024, "height": 800})
        for lang in ("en", "zh-CN"):
            page.get_by_test_id(f"lang-{lang}").click()
            for path in pages:
                page.goto(f"{srv.console}#{path}")
                expect(page.get_by_test_id("loading")).to_have_count(0)
                expect(page.locator("main h1").first).to_be_visible()
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"{role} {path} ({lang}) scrolls sideways by {overflow} px at 1024 px"
                text = page.locator("main").inner_text()
                keys = [w for w in text.split() if w.startswith(("tenant.", "sup.", "bill.", "inv.", "vch."))]
                assert not keys, f"{role} {path} ({lang}) shows message keys: {keys}"
                shots(page, f"{role}{path.replace('/', '-')}-{lang}")
        page.get_by_test_id("lang-en").click()
        page.get_by_test_id("sign-out").click()

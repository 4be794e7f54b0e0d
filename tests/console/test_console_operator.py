"""The operator and a supplier in the web console (real Chromium, real server): the fleet with
devices in use and node state, every tenant's leases, revenue drafts; a supplier's own nodes only."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def place(server: Any, token: str, **order: Any) -> dict[str, Any]:
    r = server.api(token, "POST", "/v1/orders", json=order)
    assert r.status_code == 201, r.text
    lease: dict[str, Any] = server.api(token, "GET", f"/v1/leases/{r.json()['lease_id']}").json()
    return lease


def test_operator_sees_the_fleet_leases_of_every_tenant_and_revenue(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    two = place(server, "tenant", form="gpu", quantity=2, models=["H800"])
    other = server.api("operator", "POST", "/v1/accounts", json={"name": "beta-lab", "role": "tenant"}).json()
    one = place(server, other["token"], form="gpu", quantity=1, models=["L20"])
    r = server.api("operator", "POST", "/v1/nodes/sz-4090-03/state", json={"state": "maintenance", "reason": "fan swap"})
    assert r.status_code == 200, r.text
    nodes = server.api("operator", "GET", "/v1/nodes").json()
    available = [n for n in nodes if n["state"] == "available"]

    page = sign_in(server, "operator")
    expect(page).to_have_url(re.compile(r"#/(home|fleet)$"))  # the start page: the overview once it exists
    page.get_by_role("link", name="Fleet", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/fleet$"))
    expect(page.get_by_test_id("card-sites")).to_contain_text(str(len({n["site"] for n in nodes})))
    expect(page.get_by_test_id("card-nodes")).to_contain_text(f"{len(nodes)}")
    expect(page.get_by_test_id("card-nodes")).to_contain_text("1 maintenance")
    expect(page.get_by_test_id("card-devices")).to_contain_text(str(sum(n["devices"] for n in available)))
    expect(page.get_by_test_id("card-used")).to_contain_text("3")
    h800_node = two["allocations"][0]["node"]
    assert {a["node"] for a in two["allocations"]} == {h800_node}  # gpu form: one node
    expect(page.get_by_test_id(f"node-{h800_node}").locator("td").nth(5)).to_have_text("2")
    expect(page.get_by_test_id(f"node-{one['allocations'][0]['node']}").locator("td").nth(5)).to_have_text("1")
    expect(page.get_by_test_id("node-sz-4090-03")).to_contain_text("maintenance")
    expect(page.get_by_test_id("node-sz-4090-03")).to_contain_text("fan swap")
    expect(page.get_by_test_id("nodes").locator("tbody tr")).to_have_count(len(nodes))
    shots(page, "operator-fleet")

    page.get_by_role("link", name="Leases").click()
    expect(page.get_by_test_id(f"lease-{two['id']}")).to_contain_text("demo-tenant")
    expect(page.get_by_test_id(f"lease-{one['id']}")).to_contain_text("beta-lab")
    page.get_by_test_id("leases-filter-state").select_option("ended")
    expect(page.get_by_test_id("leases")).to_contain_text("No ended leases")
    expect(page).to_have_url(re.compile(r"#/all-leases\?state=ended$"))  # the filter is in the link
    shots(page, "operator-leases")

    # the operator may end a tenant's lease from its page
    page.goto(f"{server.console}#/leases/{one['id']}")
    expect(page.get_by_test_id("lease-facts")).to_contain_text("beta-lab")  # the tenant's name, not its id
    expect(page.get_by_test_id("lease-facts").get_by_role("link", name="beta-lab")).to_have_attribute("title", one["tenant_id"])
    page.get_by_role("button", name="End lease").click()
    page.get_by_role("button", name="End now").click()
    expect(page.get_by_test_id("lease-facts")).to_contain_text("ended")
    expect(page.get_by_test_id("events")).to_contain_text("ended in the console by operator")
    assert server.api(other["token"], "GET", f"/v1/leases/{one['id']}").json()["state"] == "ended"
    page.get_by_role("link", name="Fleet").click()
    expect(page.get_by_test_id("card-used")).to_contain_text("2")

    # revenue: the month's drafts to date, per tenant, once the leases have run a metered second
    period = two["start"][:7]
    deadline = time.monotonic() + 30
    while not all(server.api("operator", "GET", f"/v1/invoices/{period}", params={"tenant": t}).json()["lines"]
                  for t in ("demo-tenant", "beta-lab")):
        assert time.monotonic() < deadline, "leases never showed on the drafts"
        time.sleep(0.2)  # waiting for a condition on the real server, bounded
    page.get_by_role("link", name="Revenue").click()
    expect(page.get_by_test_id("draft-demo-tenant")).to_be_visible()
    expect(page.get_by_test_id("draft-beta-lab")).to_be_visible()
    expect(page.get_by_test_id("rev-invoices")).to_contain_text("0")
    expect(page.get_by_test_id("rev-ledger")).to_contain_text("¥0.00")
    shots(page, "operator-revenue")


def test_supplier_sees_its_own_nodes_and_statement(server: Any, sign_in: Callable[..., Page],
                                                   shots: Callable[[Page, str], None]) -> None:
    lease = place(server, "tenant", form="gpu", quantity=1, models=["H800"])
    mine = server.api("supplier", "GET", "/v1/nodes").json()
    assert mine and {n["supplier"] for n in mine} == {"huadong-idc"}

    page = sign_in(server, "supplier")
    expect(page).to_have_url(re.compile(r"#/statement$"))
    expect(page.locator("h1")).to_have_text("Statement · huadong-idc")
    expect(page.get_by_test_id("st-payable")).to_contain_text("¥")
    expect(page.get_by_test_id("statement-lines")).to_contain_text("No issued charges yet")
    shots(page, "supplier-statement")

    page.get_by_role("link", name="My nodes").click()
    rows = page.get_by_test_id("my-nodes").locator("tbody tr")
    expect(rows).to_have_count(len(mine))
    expect(page.get_by_test_id("my-nodes")).not_to_contain_text("xibu-compute")
    node = lease["allocations"][0]["node"]
    expect(page.get_by_test_id(f"node-{node}").locator("td").nth(5)).to_have_text("1")
    # a supplier can look at a lease on its node, but not end it
    page.goto(f"{server.console}#/leases/{lease['id']}")
    expect(page.get_by_test_id("lease-facts")).to_contain_text("active")
    expect(page.get_by_role("button", name="End lease")).to_have_count(0)
    # and the operator's pages are not its own
    page.goto(f"{server.console}#/fleet")
    expect(page.get_by_test_id("forbidden")).to_contain_text("a supplier")

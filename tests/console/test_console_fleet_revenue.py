"""What issue 13 found on the operator's fleet and revenue pages: an issued month's revenue page said
"No issued invoices in this month" under its own invoice count; suspended and interrupted leases were
counted as live; a down node looked like any other. And the lists: filters from a link, sort, paging."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from suanli.testing.serve import clean_env

SUANLI = str(Path(sys.executable).with_name("suanli"))


def previous_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def test_an_issued_month_lists_its_invoices_and_who_the_charges_belong_to(
        server: Any, sign_in: Callable[..., Page]) -> None:
    # usage reported by a metering agent with no node: the operator's own revenue, no supplier share
    period = previous_month(datetime.now(UTC))
    r = server.api("operator", "POST", "/v1/usage/events", json={
        "id": "rev-test-1", "source": "console-test", "type": "device_seconds", "subject": "demo-tenant",
        "time": f"{period}-15T10:00:00Z", "data": {"quantity": "7200", "model": "L20", "site": "sz-edge-1"}})
    assert r.status_code == 202, r.text
    inv = server.api("operator", "POST", "/v1/billing/invoices", json={"tenant": "demo-tenant", "period": period})
    assert inv.status_code == 201, inv.text
    invoice = inv.json()
    report = server.api("operator", "GET", "/v1/statements/revenue", params={"period": period}).json()
    assert report["invoices"] == 1 and report["by_supplier"] == {}  # what the page showed as "no invoices"

    cli = subprocess.run([SUANLI, "--server", server.url, "--token", server.tokens["operator"], "statement", "revenue",
                          "--period", period, "--json"], capture_output=True, text=True, timeout=120, check=False,
                         env=clean_env())
    assert cli.returncode == 0, cli.stderr
    by_cli = json.loads(cli.stdout)
    assert (by_cli["invoices"], by_cli["charges"], by_cli["amount_due"]) == (
        report["invoices"], report["charges"], report["amount_due"])

    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/revenue?period={period}")
    expect(page.get_by_test_id("rev-invoices")).to_contain_text("1")
    # the tiles show the API's and the CLI's figures for the same month
    expect(page.get_by_test_id("rev-charges")).to_contain_text(f"¥{Decimal(report['charges']):,.2f}")
    expect(page.get_by_test_id(f"issued-{invoice['id']}")).to_contain_text("demo-tenant")
    expect(page.get_by_test_id(f"issued-{invoice['id']}")).to_contain_text(f"¥{Decimal(invoice['total']):,.2f}")
    expect(page.locator("main")).not_to_contain_text("No issued invoices in this month")
    expect(page.get_by_test_id("by-supplier")).to_contain_text("operator's own")
    # the month's draft is the issued invoice now: it is not listed as "not yet issued"
    expect(page.get_by_test_id("draft-demo-tenant")).to_have_count(0)

    # a month with none says so, once
    page.goto(f"{server.console}#/revenue?period=2020-01")
    expect(page.get_by_test_id("issued-invoices")).to_have_text("No issued invoices in this month.")
    expect(page.get_by_test_id("by-supplier")).to_have_count(0)


def test_fleet_counts_live_leases_by_state_and_marks_a_down_node(server: Any, sign_in: Callable[..., Page]) -> None:
    r = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert r.status_code == 201, r.text
    r = server.api("operator", "POST", "/v1/nodes/sz-4090-03/state", json={"state": "down", "reason": "PSU"})
    assert r.status_code == 200, r.text
    counts = {s: len(server.api("operator", "GET", "/v1/leases", params={"state": s}).json()["items"])
              for s in ("active", "suspended", "interrupted")}

    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/fleet")
    expect(page.get_by_test_id("card-leases")).to_contain_text(str(counts["active"]))
    expect(page.get_by_test_id("card-suspended")).to_contain_text(str(counts["suspended"]))
    expect(page.get_by_test_id("card-interrupted")).to_contain_text(str(counts["interrupted"]))
    expect(page.get_by_test_id("card-down")).to_contain_text("1")
    down = page.get_by_test_id("node-sz-4090-03")
    expect(down).to_have_class(re.compile(r"\brow-down\b"))
    expect(down.get_by_test_id("state")).to_have_text("down")
    assert page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=node-sz-4090-03] td')).backgroundColor") \
        != page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=nodes] tbody tr:not(.row-down) td')).backgroundColor")

    # the card links to the filtered list; the filter is read from the hash
    page.get_by_test_id("card-down").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#/fleet\?state=down$"))
    expect(page.get_by_test_id("nodes").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("nodes-filter-state")).to_have_value("down")
    expect(page.get_by_test_id("nodes-range")).to_contain_text("1–1 of 1")


def test_lists_sort_page_and_search(server: Any, sign_in: Callable[..., Page]) -> None:
    nodes = server.api("operator", "GET", "/v1/nodes").json()
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/fleet")
    table = page.get_by_test_id("nodes")
    names = sorted(n["name"] for n in nodes)
    expect(table.locator("tbody tr").first).to_contain_text(names[0])
    expect(page.get_by_test_id("nodes-range")).to_contain_text(f"1–{len(nodes)} of {len(nodes)}")
    # sort by name, descending (second click), announced by aria-sort
    page.get_by_test_id("nodes-sort-name").click()
    expect(table.locator("th[aria-sort=descending]")).to_have_count(1)
    expect(table.locator("tbody tr").first).to_contain_text(names[-1])
    expect(page).to_have_url(re.compile(r"sort=-name"))
    # devices sort numerically
    page.get_by_test_id("nodes-sort-devices").click()
    first = table.locator("tbody tr").first.locator("td").nth(4).inner_text()
    assert int(first) == min(n["devices"] for n in nodes)
    # search narrows; the range says how many
    page.get_by_test_id("nodes-search").fill("h800")
    h800 = [n for n in nodes if "h800" in (n["name"] + n["model"]).lower()]
    expect(table.locator("tbody tr")).to_have_count(len(h800))
    expect(page.get_by_test_id("nodes-range")).to_contain_text(f"of {len(h800)}")
    # the state survives a reload (it is in the hash)
    page.reload()
    expect(page.get_by_test_id("nodes-search")).to_have_value("h800")
    expect(page.get_by_test_id("nodes").locator("tbody tr")).to_have_count(len(h800))


def test_a_long_list_pages_and_the_page_is_in_the_link(server: Any, sign_in: Callable[..., Page]) -> None:
    for _ in range(26):
        r = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["Ascend-910B", "RTX-4090"]})
        assert r.status_code == 201, r.text
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/all-leases")
    rows = page.get_by_test_id("leases").locator("tbody tr")
    expect(rows).to_have_count(25)
    expect(page.get_by_test_id("leases-range")).to_have_text("1–25 of 26")
    page.get_by_test_id("leases-next").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("leases-range")).to_have_text("26–26 of 26")
    expect(page).to_have_url(re.compile(r"page=2"))
    page.get_by_test_id("leases-size").select_option("50")
    expect(rows).to_have_count(26)
    expect(page).to_have_url(re.compile(r"size=50"))
    expect(page).not_to_have_url(re.compile(r"page="))
    # another page links to the list filtered by tenant, in Chinese
    page.goto(f"{server.console}#/all-leases?tenant=demo-tenant&state=active")
    expect(page.get_by_test_id("leases-filter-tenant")).to_have_value("demo-tenant")
    expect(page.get_by_test_id("leases-range")).to_have_text("1–25 of 26")
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_test_id("leases-range")).to_have_text("第 1–25 条，共 26 条")
    expect(page.get_by_test_id("leases-filter-state")).to_have_value("active")


def test_tenants_linked_by_runway_and_unpaid(server: Any, sign_in: Callable[..., Page]) -> None:
    standing = server.api("operator", "GET", "/v1/wallet", params={"tenant": "demo-tenant"}).json()["standing"]
    assert standing not in ("warn", "suspend")
    page = sign_in(server, "operator")
    page.goto(f"{server.console}#/tenants")
    expect(page.get_by_test_id("tenant-demo-tenant")).to_be_visible()
    page.goto(f"{server.console}#/tenants?runway=low")
    expect(page.get_by_test_id("tenants-filter-runway")).to_have_value("low")
    expect(page.get_by_test_id("tenant-demo-tenant")).to_have_count(0)  # postpaid: no runway to run low
    expect(page.get_by_test_id("tenants")).to_contain_text("Nothing matches these filters")
    page.goto(f"{server.console}#/tenants?unpaid=yes")
    expect(page.get_by_test_id("tenants-filter-unpaid")).to_have_value("yes")
    expect(page.get_by_test_id("tenant-demo-tenant")).to_have_count(0)
    page.get_by_test_id("tenants-filter-unpaid").select_option("")
    expect(page.get_by_test_id("tenant-demo-tenant")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/tenants$"))

"""The audit trail in the web console (real Chromium, real `suanli serve --demo`): the operator sees
who changed a price and ended a lease, with before -> after, filters the table, exports CSV and
JSON; a refused filter shows the server's message next to its field; a tenant sees only its own."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_operator_reads_filters_and_exports_the_audit_trail(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None], tmp_path: Path) -> None:
    r = server.api("operator", "POST", "/v1/prices", json={"model": "H800", "amount": "133000", "unit": "p_year"})
    assert r.status_code == 201, r.text
    order = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]})
    assert order.status_code == 201, order.text
    lease_id = order.json()["lease_id"]
    r = server.api("operator", "POST", f"/v1/leases/{lease_id}/end", json={"reason": "node maintenance"})
    assert r.status_code == 200, r.text
    other = server.api("operator", "POST", "/v1/accounts", json={"name": "beta-lab", "role": "tenant"}).json()
    r = server.api(other["token"], "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert r.status_code == 201, r.text
    beta_lease = r.json()["lease_id"]

    page = sign_in(server, "operator")
    page.get_by_role("link", name="Audit").click()
    expect(page).to_have_url(re.compile(r"#/audit$"))
    rows = page.get_by_test_id("audit").locator("tbody tr")
    expect(rows.first).to_be_visible()
    price = page.get_by_test_id("audit").locator("tr", has_text="amount=133000")
    expect(price).to_contain_text("operator")
    expect(price).to_contain_text("127.0.0.1")
    expect(price).to_contain_text("POST /v1/prices")

    page.get_by_label("Object type").fill("leases")
    page.get_by_label("Object id").fill(lease_id)
    page.get_by_role("button", name="Filter").click()
    ended = page.get_by_test_id("audit").locator("tr", has_text="state: active -> ended")
    expect(ended).to_contain_text("operator")
    expect(ended).to_contain_text(f"/v1/leases/{lease_id}/end")
    expect(page.get_by_test_id("audit")).not_to_contain_text("amount=133000")
    shots(page, "operator-audit")

    with page.expect_download() as got:
        page.get_by_test_id("audit-export-csv").click()
    csv_path = tmp_path / "audit.csv"
    got.value.save_as(csv_path)
    exported = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert exported and {x["object_id"] for x in exported} == {lease_id}
    assert any(x["actor"] == "operator" and "active -> ended" in x["summary"] for x in exported)
    with page.expect_download() as got:
        page.get_by_test_id("audit-export-json").click()
    json_path = tmp_path / "audit.json"
    got.value.save_as(json_path)
    assert {d["object_id"] for d in json.loads(json_path.read_text())} == {lease_id}

    # a refused filter: the server's message next to the field it names
    page.get_by_label("Since").fill("2026-12-02T00:00")
    page.get_by_label("Until").fill("2026-12-01T00:00")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator('[data-field="until"]').get_by_test_id("field-error-until")).to_contain_text(
        "until must be after since")

    # the demo tenant sees its own organisation's entries, never beta-lab's
    page.get_by_role("button", name="Sign out").click()
    tenant_page = sign_in(server, "tenant")
    tenant_page.get_by_role("link", name="Audit").click()
    expect(tenant_page.get_by_test_id("audit")).to_contain_text(lease_id)
    expect(tenant_page.get_by_test_id("audit")).not_to_contain_text(beta_lease)
    expect(tenant_page.get_by_test_id("audit")).not_to_contain_text("beta-lab")

"""API tokens in the web console, in real Chromium against a real ``suanli serve --demo``: a tenant lists
its tokens, is refused a bad label (the API's message next to the field), makes a read token that
expires (its secret shown once) and a lease token for its lease, revokes one (it stops working at
once); the operator sees every account's tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def to_tokens(page: Page) -> None:
    page.get_by_role("navigation", name="main").get_by_role("link", name="Tokens", exact=True).click()
    expect(page.get_by_test_id("tokens")).to_be_visible()


def test_a_tenant_makes_scoped_tokens_and_revokes_one(server: Any, sign_in: Callable[..., Page],
                                                      shots: Callable[[Page, str], None]) -> None:
    order = server.api("tenant", "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]})
    assert order.status_code == 201, order.text
    lease = order.json()["lease_id"]
    (mine,) = server.api("tenant", "GET", "/v1/tokens").json()
    page = sign_in(server, "tenant")
    to_tokens(page)
    expect(page.get_by_test_id(f"token-{mine['id']}")).to_contain_text(mine["prefix"])
    expect(page.get_by_test_id(f"token-{mine['id']}")).to_contain_text("active")

    # a label the API refuses: its message next to the field, nothing made
    form = page.get_by_test_id("token-create")
    form.get_by_label("Label").fill("x" * 90)
    form.get_by_role("button", name="Create token").click()
    expect(form.get_by_test_id("field-error-label")).to_contain_text("80")
    expect(page.get_by_test_id("token-error")).to_contain_text("label")
    form.get_by_label("Label").fill("")
    form.get_by_label("Expires").select_option("at")
    form.locator("#tok-expires_at").fill("2001-01-01T00:00")
    form.get_by_role("button", name="Create token").click()
    expect(form.get_by_test_id("field-error-expires_at")).to_contain_text("after now")
    assert len(server.api("tenant", "GET", "/v1/tokens").json()) == 1
    form.get_by_label("Expires").select_option("")

    # a read token that expires in a day: the secret once, then it reads and cannot write
    form.get_by_label("Label").fill("dashboard")
    form.get_by_label("Scope").select_option("read")
    form.get_by_label("Expires").select_option("86400")
    form.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("new-token-secret").inner_text().strip()
    assert secret.startswith("sl_")
    shots(page, "tenant-tokens")
    assert server.api(secret, "GET", "/v1/leases").status_code == 200
    assert server.api(secret, "POST", "/v1/orders", json={"form": "gpu", "quantity": 1}).status_code == 403
    made = {t["label"]: t for t in server.api("tenant", "GET", "/v1/tokens").json()}
    row = page.get_by_test_id(f"token-{made['dashboard']['id']}")
    expect(row).to_contain_text("read")
    assert made["dashboard"]["expires_at"] and "token" not in made["dashboard"]
    expect(page.get_by_text(secret)).to_have_count(1)  # only in the one-time box, never in the list

    # a lease token for its lease
    form.get_by_label("Scope").select_option("lease")
    form.get_by_label("Lease").select_option(lease)
    form.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("new-token-secret")).not_to_have_text(secret)
    lease_secret = page.get_by_test_id("new-token-secret").inner_text().strip()
    assert lease_secret != secret
    assert server.api(lease_secret, "GET", f"/v1/leases/{lease}").status_code == 200
    assert server.api(lease_secret, "GET", "/v1/orders").status_code == 403

    # revoke the read token: it stops working at once
    page.get_by_test_id(f"revoke-{made['dashboard']['id']}").click()
    page.get_by_test_id("revoke-confirm").get_by_role("button", name="Revoke", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text("revoked")
    expect(page.get_by_test_id(f"token-{made['dashboard']['id']}")).to_contain_text("revoked")
    assert server.api(secret, "GET", "/v1/leases").status_code == 401

    # the operator sees every account's tokens
    page.get_by_role("button", name="Sign out").click()
    op = sign_in(server, "operator")
    to_tokens(op)
    expect(op.get_by_test_id("tokens")).to_contain_text("demo-tenant")
    expect(op.get_by_test_id("tokens")).to_contain_text("demo-supplier")
    expect(op.get_by_test_id(f"token-{made['dashboard']['id']}")).to_contain_text("revoked")

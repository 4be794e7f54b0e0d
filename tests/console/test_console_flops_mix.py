"""A tenant's flops lease in the console (real Chromium, real server): the lease page shows the mix of
models and sites it combined, as the API holds it, and the reason that names it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_a_flops_lease_shows_its_mix(server: Any, sign_in: Any) -> None:
    r = server.api("tenant", "POST", "/v1/orders", json={"form": "flops", "p": "12", "topology": "any"})
    assert r.status_code == 201, r.text
    lease = server.api("tenant", "GET", f"/v1/leases/{r.json()['lease_id']}").json()
    held = Counter((a["model"], a["site"]) for a in lease["allocations"])
    assert len({m for m, _ in held}) > 1  # a mix of models
    page: Page = sign_in(server, "tenant")
    page.goto(f"{server.console}#/leases/{lease['id']}")
    mix = page.get_by_test_id("lease-mix")
    for (model, site), n in held.items():
        expect(mix).to_contain_text(f"{n} × {model} at {site}")
    expect(page.get_by_test_id("lease-facts")).to_contain_text("combined")
    expect(page.get_by_test_id("lease-facts")).to_contain_text(lease["placement"].split(";")[0])

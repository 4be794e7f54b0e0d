"""The console's Agents page and the order form's "near" fields, in real Chromium against a real
``suanli serve --demo``; the agent side is played over the real agent routes (join with the token
the page showed, heartbeats with RTT and telemetry), so the page shows the API's own figures.

The operator makes a join token (shown once, with the exact ``suanli agent run`` command), sees the
joined agent awaiting approval (down, with the reason), its RTT, backend, devices and telemetry;
approves it (up), revokes it (down, "agent revoked"). The supplier sees its own nodes' agents only
and cannot approve. A tenant's order with a max round-trip time below every measured site is refused
next to the field, naming the sites; within it, it lands on the near site."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

NODE = "sz-l20-01"  # demo: 8 x L20 at sz-edge-1 (cn-south), supplier huadong-idc (the demo supplier)
BOOT = str(uuid.uuid4())


def to_agents(page: Page) -> None:
    page.get_by_role("navigation", name="main").get_by_role("link", name="Agents", exact=True).click()
    expect(page.get_by_test_id("agents")).to_be_visible()


def join(server: Any, token: str) -> str:
    r = httpx.post(server.url + "/v1/agents/join", timeout=30, json={
        "token": token, "node": NODE, "agent_id": str(uuid.uuid4()), "boot_id": BOOT, "version": "0.9.1",
        "backend": "nvml", "devices": [{"index": i, "name": "NVIDIA L20", "uuid": f"GPU-{i}", "memory_total_mib": 46068}
                                       for i in range(8)]})
    assert r.status_code == 201, r.text
    return str(r.json()["credential"])


def beat(server: Any, credential: str, rtt: str = "3.5") -> None:
    r = httpx.post(f"{server.url}/v1/agents/{NODE}/heartbeat", timeout=30,
                   headers={"Authorization": f"Bearer {credential}"},
                   json={"boot_id": BOOT, "rtt_ms": rtt, "devices": [
                       {"index": 0, "name": "NVIDIA L20", "uuid": "GPU-0", "utilisation_pct": 40, "memory_used_mib": 2048,
                        "memory_total_mib": 46068, "power_w": "250.5", "temperature_c": 55, "errors": 0}]})
    assert r.status_code == 200, r.text


def test_operator_joins_approves_and_revokes_an_agent(server: Any, sign_in: Callable[..., Page],
                                                      shots: Callable[[Page, str], None]) -> None:
    page = sign_in(server, "operator")
    to_agents(page)
    expect(page.get_by_test_id("agents")).to_contain_text("No agent nodes yet")
    form = page.get_by_test_id("agent-token-create")
    form.get_by_label("Node").select_option(NODE)
    form.get_by_label("Valid for").select_option("86400")
    form.get_by_role("button", name="Create join token").click()
    secret = page.get_by_test_id("agent-token-secret").input_value()
    assert secret.startswith("slj_")
    command = page.get_by_test_id("agent-run-command").input_value()
    assert command == (f"suanli agent run --server {server.url} --node {NODE} --join-token {secret} "
                       "--state-dir /var/lib/suanli-agent")
    expect(page.get_by_test_id(f"agent-{NODE}")).to_contain_text("awaiting join")

    credential = join(server, secret)
    beat(server, credential)
    page.reload()
    row = page.get_by_test_id(f"agent-{NODE}")
    expect(row.get_by_test_id("state")).to_have_text("awaiting approval")
    expect(row.get_by_test_id("health")).to_have_text("down")
    expect(row.get_by_test_id("agent-health-reason")).to_have_text("agent awaiting approval")
    expect(row.get_by_test_id("agent-rtt")).to_have_text("3.5 ms")
    expect(row).to_contain_text("nvml")
    expect(row).to_contain_text("0.9.1")
    expect(row.get_by_test_id("agent-devices")).to_have_text("8 of 8")
    expect(row.get_by_test_id(f"agent-device-{NODE}-0")).to_contain_text("40 % busy · 250.5 W · 55 °C")

    row.get_by_test_id(f"approve-{NODE}").click()
    page.get_by_test_id("agent-confirm").get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"Agent of {NODE} approved")
    beat(server, credential)
    page.reload()
    row = page.get_by_test_id(f"agent-{NODE}")
    expect(row.get_by_test_id("state")).to_have_text("approved")
    expect(row.get_by_test_id("health")).to_have_text("up")
    listed = server.api("operator", "GET", f"/v1/agents/{NODE}").json()
    assert listed["health"] == "up" and listed["rtt_ms"] == "3.5"
    shots(page, "operator-agents")

    row.get_by_test_id(f"revoke-{NODE}").click()
    page.get_by_test_id("agent-confirm").get_by_role("button", name="Revoke", exact=True).click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"Agent of {NODE} revoked")
    row = page.get_by_test_id(f"agent-{NODE}")
    expect(row.get_by_test_id("state")).to_have_text("revoked")
    expect(row.get_by_test_id("agent-health-reason")).to_have_text("agent revoked")
    r = httpx.post(f"{server.url}/v1/agents/{NODE}/heartbeat", timeout=30, headers={"Authorization": f"Bearer {credential}"},
                   json={"boot_id": BOOT, "rtt_ms": None, "devices": []})
    assert r.status_code in (401, 403), r.text


def test_supplier_sees_its_own_agents_and_a_tenant_orders_near(server: Any, sign_in: Callable[..., Page]) -> None:
    made = server.api("operator", "POST", "/v1/agents/join-tokens", json={"node": NODE, "approve": True})
    assert made.status_code == 201, made.text
    other = server.api("operator", "POST", "/v1/agents/join-tokens", json={"node": "nx-910b-01"})
    assert other.status_code == 201, other.text
    credential = join(server, made.json()["token"])
    beat(server, credential, rtt="3.5")

    page = sign_in(server, "supplier")
    to_agents(page)
    row = page.get_by_test_id(f"agent-{NODE}")
    expect(row.get_by_test_id("health")).to_have_text("up")
    expect(page.get_by_test_id("agent-nx-910b-01")).to_have_count(0)  # xibu-compute's node
    expect(page.get_by_test_id(f"approve-{NODE}")).to_have_count(0)
    expect(page.get_by_test_id(f"revoke-{NODE}")).to_have_count(0)
    # a join token for one of its own nodes (only those offered; pre-approval is the operator's)
    form = page.get_by_test_id("agent-token-create")
    expect(form.get_by_label("Node").locator("option[value='nx-910b-01']")).to_have_count(0)
    expect(form.get_by_test_id("agent-token-approve")).to_have_count(0)
    form.get_by_label("Node").select_option("sz-l20-02")
    form.get_by_role("button", name="Create join token").click()
    expect(page.get_by_test_id("agent-run-command")).to_have_value(
        re.compile(r"--node sz-l20-02 --join-token slj_\S+ --state-dir /var/lib/suanli-agent$"))
    page.get_by_role("button", name="Sign out").click()

    beat(server, credential, rtt="3.5")  # heard from just now: its site is measured
    page = sign_in(server, "tenant")  # its start page: Offers, with each site's measured RTT
    expect(page.get_by_test_id("offer-L20-sz-edge-1").get_by_test_id("rtt-sz-edge-1")).to_have_text("3.5 ms")
    expect(page.get_by_test_id("offer-H800-sh-east-1")).to_contain_text("—")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Order", exact=True).click()
    form = page.get_by_test_id("order-form")
    expect(form.get_by_label("Near region")).to_contain_text("cn-south (sz-edge-1 3.5 ms)")
    form.get_by_label("Max round-trip time (ms)").fill("2")
    expect(page.get_by_test_id("quote-error")).to_contain_text("sz-edge-1 3.5 ms")
    expect(form.get_by_test_id("field-error-max_rtt_ms")).to_be_visible()
    form.get_by_label("Max round-trip time (ms)").fill("5")
    form.get_by_label("Near region").select_option("cn-south")
    expect(page.get_by_test_id("quote")).to_have_attribute("data-state", "ok")
    form.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("flash")).to_contain_text("fulfilled")
    leases = server.api("tenant", "GET", "/v1/leases").json()["items"]
    assert {a["site"] for a in leases[0]["allocations"]} == {"sz-edge-1"}

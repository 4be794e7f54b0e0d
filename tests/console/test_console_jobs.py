"""A tenant's work on a lease in the web console (real Chromium, real ``suanli serve --demo`` whose
local driver really runs the jobs): run a job and follow it to its end with its log, cancel one,
the API's message for a command that cannot start, extend a fixed-term lease; live pages refresh
themselves."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def order(server: Any, token: str = "tenant", **extra: Any) -> dict[str, Any]:
    r = server.api(token, "POST", "/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"], **extra})
    assert r.status_code == 201, r.text
    lease: dict[str, Any] = server.api(token, "GET", f"/v1/leases/{r.json()['lease_id']}").json()
    assert lease["state"] == "active", lease
    return lease


def run_job(page: Page, command: str) -> str:
    page.locator("#job-command").fill(command)
    page.get_by_role("button", name="Run job").click()
    expect(page).to_have_url(re.compile(r"#/jobs/job_[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def test_tenant_runs_a_job_sees_its_log_and_end_and_cancels_another(
        server: Any, sign_in: Callable[..., Page], shots: Callable[[Page, str], None]) -> None:
    lease = order(server, hours="2")
    page = sign_in(server, "tenant")
    page.goto(f"{server.console}#/leases/{lease['id']}")
    expect(page.get_by_test_id("jobs")).to_contain_text("No jobs on this lease yet")

    # a command line that cannot be split, then one the engine cannot start: each says why
    page.locator("#job-command").fill("echo 'unclosed")
    page.get_by_role("button", name="Run job").click()
    expect(page.get_by_test_id("job-error")).to_contain_text("unclosed ' quote")
    page.locator("#job-command").fill("no-such-program-xyz --flag")
    page.get_by_role("button", name="Run job").click()
    expect(page.get_by_test_id("job-error")).to_contain_text("job executable 'no-such-program-xyz' was not found in the job sandbox")
    assert server.api("tenant", "GET", "/v1/jobs").json()["items"] == []

    # echo hello: submitted, followed by the page (it refreshes while the job runs) to its end
    job_id = run_job(page, "echo hello")
    expect(page.get_by_test_id("flash")).to_contain_text(f"Job {job_id} submitted: echo hello")
    facts = page.get_by_test_id("job-facts")
    expect(facts.get_by_test_id("state").first).to_have_text("completed")
    expect(page.get_by_test_id("job-logs")).to_have_text("hello")
    expect(facts).to_contain_text("Exit code0")
    expect(facts).to_contain_text(lease["allocations"][0]["node"])
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    job = server.api("tenant", "GET", f"/v1/jobs/{job_id}").json()
    assert (job["state"], job["exit_code"], job["command"]) == ("completed", 0, ["echo", "hello"])
    assert server.api("tenant", "GET", f"/v1/jobs/{job_id}/logs").json()["logs"] == "hello\n"
    shots(page, "tenant-job-completed")

    # quoting: one argument with a space, as the API receives it
    page.get_by_test_id("job-facts").get_by_role("link", name=lease["id"]).click()
    expect(page.get_by_test_id(f"job-{job_id}")).to_contain_text("completed")
    quoted = run_job(page, "sh -c 'echo \"two words\"; echo second line'")
    expect(page.get_by_test_id("job-facts").get_by_test_id("state").first).to_have_text("completed")
    expect(page.get_by_test_id("job-logs")).to_have_text("two words\nsecond line")
    assert server.api("tenant", "GET", f"/v1/jobs/{quoted}").json()["command"] == [
        "sh", "-c", 'echo "two words"; echo second line']

    # a long job: cancel it from its page, with a confirmation
    page.goto(f"{server.console}#/leases/{lease['id']}")
    long_id = run_job(page, "sleep 300")
    expect(page.get_by_test_id("job-facts").get_by_test_id("state").first).to_have_text(re.compile("pending|running"))
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_test_id("cancel-confirm")).to_contain_text(f"Cancel job {long_id} (sleep 300)?")
    page.get_by_role("button", name="Cancel it now").click()
    expect(page.get_by_test_id("job-facts").get_by_test_id("state").first).to_have_text("cancelled")
    assert server.api("tenant", "GET", f"/v1/jobs/{long_id}").json()["state"] == "cancelled"

    # the lease's page and the jobs list show all three with their states (logs and state from the engine)
    page.get_by_test_id("job-facts").get_by_role("link", name=lease["id"]).click()
    jobs = page.get_by_test_id("jobs")
    expect(jobs.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id(f"job-{job_id}")).to_contain_text("completed")
    expect(page.get_by_test_id(f"job-{long_id}")).to_contain_text("cancelled")
    shots(page, "tenant-lease-jobs")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_test_id("jobs").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id(f"job-{job_id}")).to_contain_text(lease["id"])


def test_tenant_extends_a_fixed_term_lease(server: Any, sign_in: Callable[..., Page]) -> None:
    lease = order(server, hours="2")
    open_ended = order(server)
    page = sign_in(server, "tenant")
    page.goto(f"{server.console}#/leases/{open_ended['id']}")
    expect(page.get_by_test_id("extend-note")).to_contain_text("Open-ended")
    expect(page.get_by_test_id("extend-form")).to_have_count(0)

    page.goto(f"{server.console}#/leases/{lease['id']}")
    # a fixed-term lease's allocations carry their planned end: they still hold the device now
    expect(page.get_by_role("heading", name="Devices", exact=True)).to_be_visible()
    expect(page.get_by_test_id("devices")).to_contain_text(lease["allocations"][0]["node"])
    page.locator("#f-extend_hours").fill("-1")
    page.get_by_role("button", name="Extend").click()
    expect(page.get_by_test_id("extend-error")).to_contain_text("hours, a decimal string or integer above 0")
    assert server.api("tenant", "GET", f"/v1/leases/{lease['id']}").json()["end"] == lease["end"]

    page.locator("#f-extend_hours").fill("1.5")
    page.get_by_role("button", name="Extend").click()
    after = datetime.fromisoformat(lease["end"].replace("Z", "+00:00")) + timedelta(hours=1.5)
    shown = after.astimezone(ZoneInfo("Asia/Shanghai"))  # the operator's time zone (SUANLI_TIME_ZONE's default)
    expect(page.get_by_test_id("flash")).to_contain_text(f"now ends {shown:%Y-%m-%d %H:%M:%S}")
    expect(page.get_by_test_id("lease-facts")).to_contain_text(f"{shown:%Y-%m-%d %H:%M:%S}")
    new_end = server.api("tenant", "GET", f"/v1/leases/{lease['id']}").json()["end"]
    assert datetime.fromisoformat(new_end.replace("Z", "+00:00")) == after, new_end

    # and the operator's fleet counts both leases' devices as in use (fixed term and open-ended)
    page.get_by_role("button", name="Sign out").click()
    sign_in(server, "operator")
    page.goto(f"{server.console}#/fleet")
    nodes = [lease["allocations"][0]["node"], open_ended["allocations"][0]["node"]]
    for node in set(nodes):
        expect(page.get_by_test_id(f"node-{node}").locator("td").nth(5)).to_have_text(str(nodes.count(node)))
    expect(page.get_by_test_id("card-used")).to_contain_text("2")


def test_live_pages_refresh_themselves_but_not_under_the_users_hands(
        server: Any, sign_in: Callable[..., Page], page: Page) -> None:
    page.clock.install()  # the page's timers run when the test says so (no waiting 10 s, no sleeps)
    sign_in(server, "tenant")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Leases").click()
    expect(page.get_by_test_id("leases")).to_contain_text("No leases yet")
    expect(page.get_by_test_id("updated")).to_contain_text("auto-refresh 10 s")
    lease = order(server)  # placed behind the page's back (the CLI, another tab)
    expect(page.get_by_test_id(f"lease-{lease['id']}")).to_have_count(0)
    page.clock.run_for(10_500)  # no click: the next refresh picks it up
    expect(page.get_by_test_id(f"lease-{lease['id']}")).to_contain_text("active")

    # a lease's page with a half-typed job: refreshes wait, and say so, instead of losing the text
    page.get_by_test_id(f"lease-{lease['id']}").get_by_role("link", name=lease["id"]).click()
    expect(page.get_by_test_id("jobs")).to_contain_text("No jobs on this lease yet")
    page.locator("#job-command").fill("python train.py")
    page.locator("h1").click()  # focus leaves the field; the typed text still holds the refresh
    r = server.api("tenant", "POST", f"/v1/leases/{lease['id']}/jobs", json={"command": ["echo", "elsewhere"]})
    assert r.status_code == 201, r.text
    page.clock.run_for(10_500)
    expect(page.get_by_test_id("updated")).to_contain_text("auto-refresh paused while you edit")
    expect(page.locator("#job-command")).to_have_value("python train.py")
    expect(page.get_by_test_id("jobs")).to_contain_text("No jobs on this lease yet")
    # once the field is back as it was drawn, the next refresh shows the job started elsewhere
    page.locator("#job-command").fill("")
    page.locator("h1").click()
    page.clock.run_for(10_500)
    expect(page.get_by_test_id(f"job-{r.json()['id']}")).to_contain_text("echo elsewhere")
    expect(page.get_by_test_id("updated")).not_to_contain_text("paused")

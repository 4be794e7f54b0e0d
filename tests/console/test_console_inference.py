"""The console's inference pages in real Chromium against a real ``suanli serve --demo`` serving models:
the operator deploys tiny-gpt from the form and follows its replica to ready (state, health, cold start,
hardware: the API's numbers), scales and deletes it; a tenant sees the public model read-only, makes an
inference key with a rate limit and a quota (the secret shown once), calls the model with it, reads its
usage and cost per key and model (equal to the API's) and revokes the key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from suanli.testing.inference import LAB_ENV, InferenceLab, wait_until
from suanli.testing.serve import ServeProcess, clean_env, start_serve

COLD_START_MS = 240_000  # a replica's runtime starting on a loaded 2-core machine (expect's bound)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[InferenceLab]:
    srv: ServeProcess = start_serve(tmp_path / "data", env=clean_env(**LAB_ENV), deadline_s=90)
    lab = InferenceLab.of(srv)
    try:
        yield lab
    finally:
        lab.stop()  # deployments deleted and their replicas stopped before the server


def sign_in_lab(page: Page, lab: InferenceLab, role: str) -> Page:
    page.goto(f"{lab.url}/console/")
    page.evaluate("() => sessionStorage.clear()")
    page.goto(f"{lab.url}/console/#/login")
    page.get_by_label("API token").fill(lab.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def test_operator_deploys_follows_the_replica_to_ready_scales_and_deletes(lab: InferenceLab, page: Page,
                                                                          shots: Callable[[Page, str], None]) -> None:
    sign_in_lab(page, lab, "operator")
    page.get_by_test_id("nav-deployments").click()
    form = page.get_by_test_id("deployment-create")
    # bad input first: the server's message under the form, nothing created
    form.locator("[name=name]").fill("Bad Name!")
    form.get_by_role("button", name="Deploy").click()
    expect(page.get_by_test_id("deployment-error")).to_contain_text("name")
    assert lab.ok("operator", "GET", "/v1/deployments") == []

    form.locator("[name=name]").fill("tiny-gpt")
    form.locator("[name=max_replicas]").fill("1")
    form.get_by_role("button", name="Deploy").click()
    expect(page.get_by_test_id("deployment-name")).to_have_text("tiny-gpt")
    dep = lab.ok("operator", "GET", "/v1/deployments")[0]
    expect(page.get_by_test_id("deployment-facts")).to_contain_text("inference")  # the house tenant, by name
    assert dep["name"] == "tiny-gpt" and dep["public"] is True and dep["kind"] == "generate"
    # the page follows the replica (it refreshes itself) until it is ready
    expect(page.get_by_test_id("replicas").get_by_test_id("state").first).to_have_text("ready", timeout=COLD_START_MS)
    rep = lab.ready(dep["id"])[0]
    row = page.get_by_test_id(f"replica-{rep['id']}")
    expect(row.get_by_test_id("replica-hardware")).to_have_text(rep["hardware"])
    expect(row.get_by_test_id("replica-health")).to_have_text("healthy")
    assert rep["cold_start_ms"] is not None
    expect(row.get_by_test_id("replica-cold-start")).to_have_text(f"{rep['cold_start_ms']:,} ms")
    facts = page.get_by_test_id("deployment-facts")
    expect(facts.get_by_test_id("deployment-ready")).to_have_text("1")
    expect(facts.get_by_test_id("deployment-desired")).to_have_text(str(lab.deployment(dep["id"])["desired_replicas"]))
    shots(page, "inference-deployment-operator")
    # the same page in Chinese: every string has its translation (a deployment's page is in no nav bar,
    # so test_console_i18n does not visit it)
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_role("heading", name="副本")).to_be_visible()
    expect(row.get_by_test_id("state")).to_have_text("就绪")
    problems = page.evaluate("async () => { const m = await import('./i18n.js'); return [m.missing(), m.unknown()]; }")
    assert problems == [[], []], problems
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_role("heading", name="Replicas")).to_be_visible()

    # scale: new bounds through the confirmation row
    page.get_by_test_id(f"scale-{dep['id']}").click()
    page.get_by_test_id("scale-max").fill("2")
    page.get_by_test_id("scale-confirm").get_by_role("button", name="Scale").click()
    expect(page.get_by_test_id("flash")).to_contain_text("1–2")
    assert lab.deployment(dep["id"])["max_replicas"] == 2

    # delete
    page.get_by_test_id(f"delete-{dep['id']}").click()
    page.get_by_test_id("delete-confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("flash")).to_contain_text("deleted")
    assert lab.deployment(dep["id"])["state"] == "deleted"


def test_tenant_key_usage_and_cost_equal_the_api(lab: InferenceLab, page: Page,
                                                 shots: Callable[[Page, str], None]) -> None:
    dep = lab.deploy(name="tiny-gpt", kind="generate", model="tiny-gpt", min_replicas=1, max_replicas=1)
    # prices high enough that a few calls cost more than a fen (per million tokens)
    lab.ok("operator", "POST", "/v1/prices/tokens", json={"model": "tiny-gpt", "input": {"price": "30000"},
                                                            "output": {"price": "70000"}, "cached": {"price": "10000"}})
    lab.wait_ready(dep["id"], deadline_s=240)
    sign_in_lab(page, lab, "tenant")

    # the public model, read-only for a tenant
    page.get_by_test_id("nav-deployments").click()
    expect(page.get_by_test_id("deployment-tiny-gpt")).to_be_visible()
    page.get_by_test_id("deployment-tiny-gpt").get_by_test_id("deployment-link").click()
    expect(page.get_by_test_id("deployment-name")).to_have_text("tiny-gpt")
    expect(page.get_by_test_id(f"delete-{dep['id']}")).to_have_count(0)
    expect(page.get_by_test_id(f"scale-{dep['id']}")).to_have_count(0)

    # its own deployment: private, on its own leases, its to scale and delete
    page.get_by_test_id("nav-deployments").click()
    form = page.get_by_test_id("deployment-create")
    form.locator("[name=name]").fill("my-gpt")
    form.get_by_role("button", name="Deploy").click()
    expect(page.get_by_test_id("deployment-name")).to_have_text("my-gpt")
    mine = [d for d in lab.ok("tenant", "GET", "/v1/deployments") if d["name"] == "my-gpt"]
    assert len(mine) == 1 and mine[0]["public"] is False
    assert mine[0]["owner_id"] != dep["owner_id"]  # the tenant pays, not the house tenant
    page.get_by_test_id(f"delete-{mine[0]['id']}").click()
    page.get_by_test_id("delete-confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("flash")).to_contain_text("deleted")
    assert "my-gpt" not in {d["name"] for d in lab.ok("tenant", "GET", "/v1/deployments")}

    # an inference key with limits; the secret once
    page.get_by_test_id("nav-inference-keys").click()
    form = page.get_by_test_id("key-create")
    form.locator("[name=label]").fill("chat app")
    form.locator("[name=rate_limit_per_minute]").fill("600")
    form.locator("[name=token_quota]").fill("100000")
    form.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text()
    mine = [x for x in lab.ok("tenant", "GET", "/v1/tokens") if x["scope"] == "inference"]
    assert len(mine) == 1 and secret.startswith(mine[0]["prefix"])
    assert mine[0]["rate_limit_per_minute"] == 600 and mine[0]["token_quota"] == 100000
    row = page.get_by_test_id(f"key-{mine[0]['id']}")
    expect(row.get_by_test_id("key-rate")).to_have_text("600")
    expect(row.get_by_test_id("key-quota")).to_have_text("100,000")

    # calls with the key, then the usage page shows the API's numbers
    for i in range(3):
        r = httpx.post(f"{lab.base_url}/chat/completions", headers={"Authorization": f"Bearer {secret}"}, timeout=120,
                       json={"model": "tiny-gpt", "messages": [{"role": "user", "content": f"hello {i}"}],
                             "max_tokens": 8, "temperature": 0})
        assert r.status_code == 200, r.text
    period = datetime.now(UTC).strftime("%Y-%m")

    def rows() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = lab.ok("tenant", "GET", "/v1/inference/usage", params={"period": period})["rows"]
        return items

    usage = wait_until(lambda: (lambda rs: rs if rs and sum(int(r["requests"]) for r in rs) == 3 else None)(rows()), 60,
                       "3 metered calls")
    assert Decimal(str(usage[0]["cost"])) > 0, usage
    page.get_by_test_id("nav-inference-usage").click()
    for r in usage:
        line = page.get_by_test_id(f"usage-{r['token_id']}-{r['model']}")
        expect(line.get_by_test_id("usage-requests")).to_have_text(str(r["requests"]))
        expect(line.get_by_test_id("usage-prompt")).to_have_text(f"{int(r['prompt_tokens']):,}")
        expect(line.get_by_test_id("usage-completion")).to_have_text(f"{int(r['completion_tokens']):,}")
        cost = page.evaluate("async (s) => (await import('./ui.js')).yuan(s, 6)", str(r["cost"]))
        expect(line.get_by_test_id("usage-cost")).to_have_text(cost)
    totals = lab.ok("tenant", "GET", "/v1/inference/usage", params={"period": period})["totals"]
    expect(page.get_by_test_id("usage-total-requests")).to_have_text(str(totals["requests"]))
    expect(page.get_by_test_id("usage-total-completion")).to_have_text(f"{int(totals['completion_tokens']):,}")
    total_cost = page.evaluate("async (s) => (await import('./ui.js')).yuan(s, 6)", str(totals["cost"]))
    expect(page.get_by_test_id("usage-total-cost")).to_have_text(total_cost)
    shots(page, "inference-usage-tenant")
    # another month: nothing there (the API's rows of that month: none)
    now = datetime.now(UTC)
    before = f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"
    assert lab.ok("tenant", "GET", "/v1/inference/usage", params={"period": before})["rows"] == []
    page.get_by_test_id("usage-period-pick").select_option(before)
    page.get_by_test_id("usage-period").get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("usage")).to_have_text(f"No inference calls in {before}.")

    # revoke: the key stops working at once
    page.get_by_test_id("nav-inference-keys").click()
    page.get_by_test_id(f"key-revoke-{mine[0]['id']}").click()
    page.get_by_test_id("key-revoke-confirm").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("flash")).to_contain_text("revoked")
    r = httpx.get(f"{lab.base_url}/models", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert r.status_code == 401, r.text

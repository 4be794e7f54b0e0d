"""``suanli token create --scope inference --rate-limit --token-quota`` and ``suanli inference usage``
as a user types them: the key's limits are printed and listed; the key may not read usage; the
tenant's usage table and JSON show the key's requests, tokens and cost."""

from __future__ import annotations

from datetime import timedelta

from cli_harness import Cli

from suanli.service import accounts, plans
from suanli.service.inference_metering import MeteredRequest, meter
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


def test_inference_keys_and_usage_through_the_cli(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                                  platform: Platform) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("token", "create", "--scope", "inference", "--rate-limit", "600", "--token-quota", "1000000",
            "--label", "chatbot", token=acme)
    assert r.exit_code == 0, r.output
    assert "600 requests/minute" in r.stdout and "1,000,000 tokens/month" in r.stdout
    key = r.stdout.strip().splitlines()[-1]
    made = next(t for t in cli.json("token", "list", token=acme) if t["label"] == "chatbot")
    assert (made["scope"], made["rate_limit_per_minute"], made["token_quota"]) == ("inference", 600, 1_000_000)
    listed = cli("token", "list", token=acme)
    assert "1,000,000" in listed.stdout and "600" in listed.stdout

    r = cli("token", "create", "--rate-limit", "10", token=acme)
    assert r.exit_code == 1 and "only for an inference key" in r.output
    r = cli("token", "create", "--scope", "inference", "--token-quota", "0", token=acme)
    assert r.exit_code == 1 and "token_quota" in r.output
    r = cli("inference", "usage", token=key)
    assert r.exit_code == 1 and "inference key only calls models" in r.output

    p = platform
    plans.create_plan(p, accounts.authenticate(p, op), {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                        "rates": [{"meter": "inference_input_tokens", "model": "tiny-gpt",
                                                   "price": "2"}]})
    acme_id = cli.json("whoami", token=acme)["account"]["id"]
    now = clock.now()
    assert meter(p, MeteredRequest(id="req_cli", token_id=made["id"], tenant_id=acme_id, deployment_id="dep_x",
                                   replica_id="rep_x", model="tiny-gpt", endpoint="chat", status="ok", stream=False,
                                   started_at=now, ended_at=now + timedelta(seconds=1), prompt_tokens=1_500_000))
    u = cli.json("inference", "usage", token=acme)
    assert [(x["label"], x["prompt_tokens"], x["cost"]) for x in u["rows"]] == [("chatbot", 1_500_000, "3.00")]
    table = cli("inference", "usage", "--period", now.strftime("%Y-%m"), token=acme)
    assert table.exit_code == 0 and "chatbot" in table.stdout and "3.00" in table.stdout
    assert "1,500,000" in table.stdout
    assert cli.json("inference", "usage", "--tenant", "acme", token=op)["totals"]["cost"] == "3.00"
    r = cli("inference", "usage", "--period", "2026-13", token=acme)
    assert r.exit_code == 1 and "period" in r.output


def test_token_prices_through_the_cli(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("price", "tokens", "--model", "tiny-gpt", "--input", "2", "--output", "8@1,6", "--cached", "0.5",
            token=op)
    assert r.exit_code == 0, r.output
    assert "inference_output_tokens" in r.stdout and "8 up to 1 M, 6" in r.stdout and "0.5" in r.stdout
    plan = cli.json("price", "tokens", "--model", "tiny-gpt", "--input", "3", token=op)
    assert {(x["meter"], x["price"]) for x in plan["rates"]} == {
        ("inference_input_tokens", "3"), ("inference_output_tokens", "8"), ("inference_cached_input_tokens", "0.5")}
    r = cli("price", "tokens", "--model", "tiny-gpt", "--input", "1", token=acme)
    assert r.exit_code == 1 and "operator" in r.output
    for bad in ("8@1", "8,6", "x", "8@1,6@2"):
        r = cli("price", "tokens", "--model", "tiny-gpt", "--output", bad, token=op)
        assert r.exit_code == 2, (bad, r.output)
    assert cli("price", "tokens", "--model", "tiny-gpt", token=op).exit_code == 2

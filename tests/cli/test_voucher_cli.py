"""Vouchers through the CLI as an operator types them: a Beijing voucher claimed on a contract, a
second claim refused, redeemed with invoice and evidence; the audit CSV names each rule."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_beijing_voucher_through_the_cli(cli: Cli, tokens: dict[str, str], clock: FakeClock, tmp_path: Path) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    plan_file = tmp_path / "contract.json"
    plan_file.write_text(json.dumps({"tenant": "acme", "kind": "payg", "paid": True,
                                     "effective_from": "2026-11-01T00:00:00Z",
                                     "effective_to": "2027-10-31T00:00:00Z"}))
    plan = cli.json("plan", "create", str(plan_file), token=op)["id"]
    c = cli.json("voucher", "contract", plan, "--signed-on", "2026-10-15", "--value", "1000", token=op)
    assert c["value"] == "1000" and c["tenant"] == "acme"
    r = cli("voucher", "issue", "--tenant", "acme", "--issuer", "beijing-city", "--scheme", "beijing", "--percent",
            "0.25", "--cap", "100", "--from", "2026-11-01", "--to", "2027-01-01", token=op)
    assert r.exit_code == 1 and "rule beijing.max_percent" in r.output
    v = cli.json("voucher", "issue", "--tenant", "acme", "--issuer", "beijing-city", "--scheme", "beijing",
                 "--percent", "0.2", "--cap", "100", "--from", "2026-11-01", "--to", "2027-01-01", token=op)
    assert v["scheme"] == "beijing"
    r = cli("voucher", "claim", v["id"], "--contract", plan, token=acme)
    assert r.exit_code == 1 and "operator" in r.output  # claiming is the operator's
    assert cli.json("voucher", "claim", v["id"], "--contract", plan, token=op)["contract"] == plan
    r = cli("voucher", "claim", v["id"], "--contract", plan, token=op)
    assert r.exit_code == 1 and "rule one_claim_per_contract" in r.output
    assert cli.json("voucher", "approve-supplier", "beijing", "huadong-idc", token=op)["suppliers"] == ["huadong-idc"]
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "8", "--model", "L20", token=acme)
    clock.advance(hours=5)
    assert cli("lease", "end", order["lease"]["id"], token=acme).exit_code == 0
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    assert Decimal(inv["vouchers"]) == 0  # a Beijing voucher is redeemed, not applied on issue
    red = cli.json("voucher", "redeem", v["id"], "--invoice", inv["id"], "--evidence", "acceptance 2026-11-30",
                   token=op)
    assert red["amount"] == "20.8" and red["to"] == "wallet"  # 20 % of 40 L20 device-hours at 2.60
    r = cli("voucher", "audit", "--csv", token=op)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["outcome"], x["rule"], x["amount"]) for x in rows] == [("used", "percent_of_line", "20.80")]
    assert rows[0]["rule_text"].startswith("allowed")
    assert cli.json("voucher", "list", token=acme)[0]["used"] == "20.8"
    assert "beijing" in cli("voucher", "schemes", token=acme).stdout

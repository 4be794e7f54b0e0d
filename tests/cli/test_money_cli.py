"""Money through the CLI as users type it: usage ingest, plans, wallet, vouchers, packages, invoices, statements."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_money_commands_end_to_end(cli: Cli, tokens: dict[str, str], clock: FakeClock, tmp_path: Path) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps({
        "id": f"r{i}", "source": "gw", "type": "inference_output_tokens", "subject": "acme",
        "time": "2026-11-23T08:30:00Z", "data": {"quantity": "2000000"}}) for i in range(3)))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                "rates": [{"meter": "inference_output_tokens", "price": "8"}]}))
    assert cli.json("plan", "create", str(plan), token=op)["tenant"] == "*"
    pk = cli.json("package", "buy", "--meter", "inference_output_tokens", "--quantity", "1", "--price", "5",
                  "--expires", "2026-12-31", token=acme)
    assert pk["tenant"] == "acme"
    clock.advance(hours=1)
    assert cli.json("usage", "ingest", str(events), token=op) == {"received": 3, "accepted": 3, "duplicates": 0}
    assert cli.json("usage", "ingest", str(events), token=op)["duplicates"] == 3
    r = cli("usage", "ingest", str(events), token=acme)
    assert r.exit_code == 1 and "operator role" in r.output
    assert cli.json("wallet", "top-up", "acme", "100", token=op)["balance"] == "100"
    v = cli.json("voucher", "issue", "--tenant", "acme", "--issuer", "hangzhou-city", "--percent", "0.2", "--cap",
                 "10", "--from", "2026-11-01", "--to", "2027-01-01", token=op)
    assert cli.json("voucher", "list", token=acme)[0]["id"] == v["id"]
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    # 6 M tokens: 1 M from the package, 5 M x 8 = 40.00; package fee 5.00; no paid contract: no voucher
    assert inv["total"] == "45" and inv["vouchers"] == "0" and inv["wallet"] == "45" and inv["status"] == "paid"
    assert [x["id"] for x in cli.json("invoice", "list", token=acme)] == [inv["id"]]
    out = tmp_path / "inv.html"
    r = cli("invoice", "export", inv["id"], "--format", "html", "-o", str(out), token=acme)
    assert r.exit_code == 0 and "45.00" in out.read_text()
    r = cli("invoice", "export", inv["id"], "--format", "csv", token=acme)
    assert r.stdout.startswith("invoice,line_no,kind")
    assert cli.json("invoice", "get", inv["id"], token=acme)["amount_due"] == "0"
    assert cli.json("wallet", "show", token=acme)["balance"] == "55"
    r = cli("invoice", "get", inv["id"], token=tokens["globex"])
    assert r.exit_code == 1 and "no invoice" in r.output
    rev = cli.json("statement", "revenue", "--period", "2026-11", token=op)
    assert rev["charges"] == "45" and rev["ledger_sum"] == "0"
    r = cli("voucher", "audit", "--csv", token=op)
    assert r.exit_code == 0

"""Money through the CLI as users type it: usage ingest, plans, wallet, vouchers, packages, invoices, statements."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
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
    cli.json("package", "product", "create", "1M output tokens", "--meter", "inference_output_tokens", "--quantity",
             "1", "--price", "5", "--valid-from", "2026-11-01", "--valid-to", "2026-12-31", token=op)
    pk = cli.json("package", "buy", "1M output tokens", token=acme)
    assert pk["tenant"] == "acme" and pk["price"] == "5"
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
    assert inv["total"] == "45.00" and inv["vouchers"] == "0.00" and inv["wallet"] == "45.00" and inv["status"] == "paid"
    assert [x["id"] for x in cli.json("invoice", "list", token=acme)] == [inv["id"]]
    out = tmp_path / "inv.html"
    r = cli("invoice", "export", inv["id"], "--format", "html", "-o", str(out), token=acme)
    assert r.exit_code == 0 and "45.00" in out.read_text()
    r = cli("invoice", "export", inv["id"], "--format", "csv", token=acme)
    assert r.stdout.startswith("invoice,line_no,kind")
    assert cli.json("invoice", "get", inv["id"], token=acme)["amount_due"] == "0.00"
    assert cli.json("wallet", "show", token=acme)["balance"] == "55"
    r = cli("invoice", "get", inv["id"], token=tokens["globex"])
    assert r.exit_code == 1 and "no invoice" in r.output
    rev = cli.json("statement", "revenue", "--period", "2026-11", token=op)
    assert rev["charges"] == "45" and rev["ledger_sum"] == "0"
    r = cli("voucher", "audit", "--csv", token=op)
    assert r.exit_code == 0


def test_statement_per_node_provisional_then_issued(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    op = tokens["operator"]
    east = cli.json("account", "create", "east", "--role", "supplier", "--supplier", "huadong-idc", token=op)["token"]
    for t in ("acme", "globex"):
        cli.json("order", "create", "--form", "gpu", "--quantity", "8", "--model", "H800", token=tokens[t])
    clock.advance(hours=2)
    st = cli.json("revenue", "--period", "2026-11", token=east)
    assert st["lines"] == [] and st["provisional"]["status"] == "provisional"
    assert len(st["provisional"]["nodes"]) == 2 and st["provisional"]["tenants"] == 2
    table = cli("revenue", "--period", "2026-11", token=east).stdout
    assert "PROVISIONAL 2026-11" in table and "sh-h800-0" in table
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    issued = [cli.json("invoice", "issue", t, "--period", "2026-11", token=op) for t in ("acme", "globex")]
    st = cli.json("statement", "supplier", "--period", "2026-11", token=east)
    assert {n["node"] for n in st["nodes"]} == {x["lines"][0]["node"] for x in issued}
    assert sum(Decimal(n["gross"]) for n in st["nodes"]) == sum(Decimal(x["total"]) for x in issued) > 0
    assert st["provisional"]["lines"] == []
    shown = cli.json("invoice", "show", "--period", "2026-11", token=tokens["acme"])
    assert shown["id"] == issued[0]["id"] and shown["status"] == "issued"
    assert f"[issued {issued[0]['id']}]" in cli("invoice", "show", "--period", "2026-11", token=tokens["acme"]).stdout

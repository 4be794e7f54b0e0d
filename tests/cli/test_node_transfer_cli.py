"""As an operator types it: transfer a node to another supplier (never back-dated), read its
ownership history, and see usage split at the transfer and the operator's own revenue on its own row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_transfer_owners_and_the_revenue_rows(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                             tmp_path: Path) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    cut = clock.now() + timedelta(hours=1)
    r = cli("node", "transfer", "sz-4090-01", "huadong-idc", "--reason", "sold", "--effective-from",
            "2026-11-01T00:00:00Z", token=op)
    assert r.exit_code == 1 and "in the past" in r.output and "never earlier" in r.output
    r = cli("node", "transfer", "sz-4090-01", "huadong-idc", "--reason", "sold", token=acme)
    assert r.exit_code == 1 and "operator" in r.output
    r = cli("node", "transfer", "sz-4090-01", "huadong-idc", "--reason", "sold", "--effective-from", "tomorrow",
            token=op)
    assert r.exit_code == 1 and "not an ISO-8601 instant" in r.output
    r = cli("node", "transfer", "sz-4090-01", "huadong-idc", "--reason", "sold to the east", "--effective-from",
            cut.isoformat(), token=op)
    assert r.exit_code == 0 and "owned by xibu-compute" in r.stdout and "sold to the east" in r.stdout
    doc = cli.json("node", "owners", "sz-4090-01", token=op)
    assert [(x["supplier"], x["end"] and datetime.fromisoformat(x["end"].replace("Z", "+00:00")))
            for x in doc["history"]] == [("xibu-compute", cut), ("huadong-idc", None)]

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"tenant": "*", "kind": "payg", "effective_from": clock.now().isoformat(),
                                "rates": [{"meter": "inference_output_tokens", "price": "8"}]}))
    cli.json("plan", "create", str(plan), token=op)
    clock.advance(hours=2)
    events = tmp_path / "events.jsonl"
    gpu = {"type": "device_seconds", "subject": "acme", "data": {"quantity": "3600", "model": "RTX-4090",
                                                                    "node": "sz-4090-01"}}
    events.write_text("\n".join(json.dumps(x) for x in [
        {**gpu, "id": "before", "source": "agent", "time": (cut - timedelta(minutes=1)).isoformat()},
        {**gpu, "id": "after", "source": "agent", "time": cut.isoformat()},
        {"id": "tok", "source": "gateway", "type": "inference_output_tokens", "subject": "acme",
         "time": clock.now().isoformat(), "data": {"quantity": "1000000"}}]))
    assert cli.json("usage", "ingest", str(events), token=op)["accepted"] == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**gpu, "id": "x", "source": "agent", "time": cut.isoformat(),
                               "data": {**gpu["data"], "supplier": "xibu-compute"}}))
    r = cli("usage", "ingest", str(bad), token=op)
    assert r.exit_code == 1 and "contradicts the owner of node sz-4090-01" in r.output

    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    west = cli.json("statement", "supplier", "--supplier", "xibu-compute", "--period", "2026-11", token=op)
    east = cli.json("statement", "supplier", "--supplier", "huadong-idc", "--period", "2026-11", token=op)
    assert [n["node"] for n in west["nodes"]] == [n["node"] for n in east["nodes"]] == ["sz-4090-01"]
    # one device-hour each side, at the node's site price (sz-edge-1: 2.10, taken from the node)
    assert Decimal(west["gross"]) == Decimal(east["gross"]) == Decimal("2.10")
    rev = cli.json("statement", "revenue", "--period", "2026-11", token=op)
    assert Decimal(rev["operator_own"]) == Decimal("8.00") and rev["operator_own_by"] == {"inference_output_tokens": "8"}
    assert Decimal(rev["supplier_gross"]) + Decimal(rev["operator_own"]) == Decimal(rev["charges"]) \
        == sum(Decimal(x["amount"]) for x in inv["lines"])
    table = cli("statement", "revenue", "--period", "2026-11", token=op).stdout
    assert "operator's own revenue (no node)" in table and "on suppliers' nodes" in table

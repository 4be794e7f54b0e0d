"""An issued invoice prints exactly like the draft of its month: ``suanli invoice show`` (table,
``--json``, ``--format csv|html``) of a month previewed and then issued at the same instant, and
``invoice get`` / ``invoice export`` of the issued one, compared field by field and line by line
(on SQLite and PostgreSQL: the fixtures run both)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli_harness import Cli

from suanli.testing.clock import FakeClock

AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
TOTALS = ("subtotal", "tax", "total", "vouchers", "credits", "wallet", "amount_due")
ISSUE_ONLY = {"id", "status", "issued_at", "paid_at", "voided_at"}


def _month(cli: Cli, tokens: dict[str, str], clock: FakeClock, tmp_path: Path) -> None:
    """acme: 1 H800 for 1 h 7 s and 2 h more (a long unit price), 6 M output tokens at 8 元 (48.00, a
    whole number of yuan), 20 元 in the wallet and a 10 元 credit (not enough to pay it all)."""
    op, acme = tokens["operator"], tokens["acme"]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps({
        "id": f"r{i}", "source": "gw", "type": "inference_output_tokens", "subject": "acme",
        "time": "2026-11-23T08:30:00Z", "data": {"quantity": "2000000"}}) for i in range(3)))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                "rates": [{"meter": "inference_output_tokens", "price": "8"}]}))
    cli.json("plan", "create", str(plan), token=op)
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "H800", token=acme)
    clock.advance(hours=1, seconds=7)
    lease = order["lease"]["id"]
    r = cli("lease", "end", lease, token=acme)
    assert r.exit_code == 0, r.output
    cli.json("usage", "ingest", str(events), token=op)
    cli.json("wallet", "top-up", "acme", "20", token=op)
    cli.json("wallet", "credit", "acme", "10", "--reason", "welcome", token=op)
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))


def _rows(text: str) -> list[str]:
    return [x.rstrip() for x in text.splitlines()]


def _amounts(doc: dict[str, Any]) -> list[str]:
    out = [doc[k] for k in TOTALS]
    for x in doc["lines"]:
        out += [x["amount"], *[x[k] for k in ("supplier_share", "commission") if x.get(k) is not None]]
    return out


def test_issued_invoice_prints_exactly_like_its_draft(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                                      tmp_path: Path) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    _month(cli, tokens, clock, tmp_path)
    show = ("invoice", "show", "--period", "2026-11")
    draft_json = cli.json(*show, token=acme)
    draft_op = cli.json(*show, "--tenant", "acme", token=op)
    draft_table = cli(*show, token=acme).stdout
    draft_csv = cli(*show, "--format", "csv", token=acme).stdout
    draft_html = cli(*show, "--format", "html", token=acme).stdout
    assert draft_json["status"] == "preview" and draft_json["id"] is None

    issued = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    shown = cli.json(*show, token=acme)
    shown_op = cli.json(*show, "--tenant", "acme", token=op)
    got = cli.json("invoice", "get", issued["id"], token=acme)
    assert shown["status"] == "issued" and shown["id"] == issued["id"]

    # JSON: every field of the draft is the issued invoice's, written the same way (but its identity)
    for before, after in ((draft_json, shown), (draft_op, shown_op), (draft_json, got)):
        assert set(before) == set(after)
        for k in set(before) - ISSUE_ONLY:
            assert before[k] == after[k], k
        assert len(before["lines"]) == 2
        for x, y in zip(before["lines"], after["lines"], strict=True):
            assert x == y
    assert {k: got[k] for k in got if k != "records"} == {k: shown[k] for k in shown if k != "records"}
    # every amount in the currency's minor unit: 48.00, never 48 or 48.000000000000
    for doc in (draft_json, draft_op, shown, shown_op, got, issued):
        assert all(AMOUNT.match(a) for a in _amounts(doc)), _amounts(doc)
    assert draft_json["lines"][1]["amount"] == "48.00" and draft_json["credits"] == "10.00"
    assert draft_op["lines"][0]["supplier_share"] is not None and draft_json["lines"][0]["supplier_share"] is None

    # the terminal: the same table, but the state and the instant in its title and caption
    issued_table = cli(*show, token=acme).stdout
    get_table = cli("invoice", "get", issued["id"], token=acme).stdout
    assert issued_table == get_table
    assert "[draft]" in draft_table and f"[issued {issued['id']}]" in issued_table
    assert "1,870.37" not in draft_table or "1,870.37" in issued_table
    assert _rows(draft_table.replace("[draft]", f"[issued {issued['id']}]").replace("as of ", "issued ")) == \
        _rows(issued_table)
    assert " 48.00 " in issued_table and "wallet 20.00 = amount due" in issued_table

    # CSV: the same rows, but the invoice id; the issued month's export is the invoice's export
    issued_csv = cli(*show, "--format", "csv", token=acme).stdout
    export_csv = cli("invoice", "export", issued["id"], "--format", "csv", token=acme).stdout
    assert issued_csv == export_csv
    assert draft_csv.replace("\n,", f"\n{issued['id']},") == issued_csv
    assert ",48.00," in issued_csv and ",0.00,,,tax" in issued_csv

    # HTML: the same line table and totals
    issued_html = cli("invoice", "export", issued["id"], "--format", "html", token=acme).stdout
    body = re.compile(r"<table>.*</table>", re.S)
    d, i = body.search(draft_html), body.search(issued_html)
    assert d and i and d.group(0) == i.group(0)
    assert "<td class=n>48.00</td>" in issued_html and "20.00 CNY" in issued_html


def test_invoice_list_amounts_and_bad_status(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                             tmp_path: Path) -> None:
    op = tokens["operator"]
    _month(cli, tokens, clock, tmp_path)
    issued = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    (row,) = cli.json("invoice", "list", "--status", "issued", token=op)
    assert row["total"] == issued["total"] and AMOUNT.match(row["total"]) and AMOUNT.match(row["amount_due"])
    assert cli.json("invoice", "list", "--status", "void", token=op) == []
    r = cli("invoice", "list", "--status", "draft", token=op)
    assert r.exit_code == 1 and "allowed: issued, paid, void" in r.output
    r = cli("invoice", "show", "--period", "2026-11", "--format", "pdf", token=op)
    assert r.exit_code != 0 and "table, json, csv, html" in r.output

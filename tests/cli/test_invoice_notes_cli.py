"""``suanli invoice debit`` and the notes on an invoice in the terminal (table, --json, csv, html), and
``suanli invoice pay`` collecting a debit note (SQLite and PostgreSQL: the fixtures run both)."""

from __future__ import annotations

from datetime import UTC, datetime

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_invoice_debit_shows_on_the_invoice_and_pay_collects_it(cli: Cli, tokens: dict[str, str],
                                                                 clock: FakeClock) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "H800", token=acme)
    clock.advance(hours=2)
    assert cli("lease", "end", order["lease"]["id"], token=acme).exit_code == 0
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    auth = {"Authorization": f"Bearer {op}"}
    before = cli.http.get("/v1/ledger/check", headers=auth).json()
    for args, words in ((("-1",), "allowed"), (("0",), "allowed"), (("1.001",), "decimal places"),
                        (("1e12",), "largest")):
        r = cli("invoice", "debit", "--reason", "fee", "--", inv["id"], *args, token=op)
        assert r.exit_code != 0 and words in r.output, r.output
    r = cli("invoice", "debit", inv["id"], "5")
    assert r.exit_code != 0
    r = cli("invoice", "debit", inv["id"], "5", "--reason", "fee", token=acme)
    assert r.exit_code != 0 and "debiting an invoice" in r.output, r.output
    r = cli("invoice", "debit", "inv_nope", "5", "--reason", "fee", token=op)
    assert r.exit_code != 0 and "inv_nope" in r.output
    assert cli.json("invoice", "get", inv["id"], token=op)["notes"] == []
    assert cli.http.get("/v1/ledger/check", headers=auth).json() == before
    doc = cli.json("invoice", "debit", inv["id"], "7.50", "--reason", "remote hands", token=op)
    (note,) = doc["notes"]
    assert note["kind"] == "debit" and note["amount"] == "7.50" and note["by"] == "operator"
    table = cli("invoice", "get", inv["id"], token=acme)
    assert table.exit_code == 0
    assert f"debit note {note['id']}: 7.50" in table.stdout and "remote hands" in table.stdout
    assert "balance after notes" in table.stdout and "unpaid" in table.stdout
    shown = cli("invoice", "show", "--period", "2026-11", token=acme).stdout
    assert note["id"] in shown
    csv_text = cli("invoice", "export", inv["id"], "--format", "csv", token=acme).stdout
    assert "debit_note" in csv_text and note["id"] in csv_text and "balance_after_notes" in csv_text
    html = cli("invoice", "show", "--period", "2026-11", "--format", "html", token=acme).stdout
    assert note["id"] in html and "balance after notes" in html
    paid = cli.json("invoice", "pay", inv["id"], token=op)
    assert paid["status"] == "paid" and paid["outstanding"] == "0.00" and paid["notes"][0]["paid_at"]
    r = cli("invoice", "pay", inv["id"], token=op)
    assert r.exit_code != 0 and "nothing outstanding" in r.output

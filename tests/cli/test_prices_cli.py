"""`suanli price set|correct|corrections` as an operator types them: a back-dated price is refused
with what is allowed; a correction issues a note and is listed; --help says what is true."""

from __future__ import annotations

from datetime import UTC, datetime

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_price_set_refuses_the_past_and_correct_issues_notes(cli: Cli, tokens: dict[str, str],
                                                             clock: FakeClock) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("price", "set", "A800", "9", "--effective-from", "2026-11-01", token=op)
    assert r.exit_code == 1 and "is in the past" in r.stderr and "suanli price correct" in r.stderr
    r = cli("price", "set", "A800", "1e12", token=op)
    assert r.exit_code == 1 and "largest allowed" in r.stderr
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "H800", token=acme)
    clock.advance(hours=1)
    assert cli("lease", "end", order["lease"]["id"], token=acme).exit_code == 0
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    args = ("price", "correct", "H800", "5", "--from", "2026-11-23T08:00:00Z", "--to", "2026-11-23T08:30:00Z")
    r = cli(*args, "--reason", "pilot rate", token=acme)
    assert r.exit_code == 1
    doc = cli.json(*args, "--reason", "pilot rate", token=op)
    assert doc["notes"][0]["kind"] == "credit" and doc["reason"] == "pilot rate"
    listed = cli("price", "corrections", token=op)
    assert listed.exit_code == 0 and doc["id"] in listed.stdout and doc["notes"][0]["id"] in listed.stdout
    assert "now or later" in cli("price", "set", "--help").stdout
    assert "--reason" in cli("price", "correct", "--help").stdout

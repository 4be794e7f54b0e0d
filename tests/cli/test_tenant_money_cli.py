"""`suanli invoice pay ID --from-wallet` and `suanli lease cost`, as a tenant would run them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_a_tenant_pays_its_invoice_from_the_wallet_and_reads_cost_to_date(cli: Cli, tokens: dict[str, str],
                                                                          clock: FakeClock) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    order = cli.json("order", "create", "--form", "gpu", "--quantity", "2", "--model", "L20", token=acme)["order"]
    clock.advance(hours=3)
    costs = cli.json("lease", "cost", token=acme)
    draft = cli.json("invoice", "show", "--period", "2026-11", token=acme)
    (item,) = costs["items"]
    assert item["lease"] == order["lease_id"]
    assert Decimal(item["cost_to_date"]) == sum(Decimal(x["amount"]) for x in draft["lines"]
                                                if x["lease"] == order["lease_id"]) > 0
    table = cli("lease", "cost", order["lease_id"], token=acme)
    assert table.exit_code == 0 and order["lease_id"] in table.stdout and "2026-11" in table.stdout
    assert cli("lease", "cost", "--tenant", "acme", token=op).exit_code == 0
    assert cli("lease", "cost", token=tokens["globex"]).exit_code == 0  # its own: none
    assert order["lease_id"] not in cli("lease", "cost", token=tokens["globex"]).stdout
    cli.json("lease", "end", order["lease_id"], token=acme)
    clock.set(datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC))
    inv = cli.json("invoice", "issue", "acme", "--period", "2026-11", token=op)
    due = Decimal(inv["amount_due"])
    assert inv["status"] == "issued" and due > 0
    # an empty wallet: refused, saying what to do; another tenant cannot pay it
    r = cli("invoice", "pay", inv["id"], "--from-wallet", token=acme)
    assert r.exit_code != 0 and "top the wallet up" in r.output
    r = cli("invoice", "pay", inv["id"], "--from-wallet", token=tokens["globex"])
    assert r.exit_code != 0 and "no invoice" in r.output
    cli.json("wallet", "top-up", "acme", str(due + 1), token=op)
    paid = cli.json("invoice", "pay", inv["id"], "--from-wallet", token=acme)
    assert paid["status"] == "paid"
    assert Decimal(cli.json("wallet", "show", token=acme)["balance"]) == 1

"""``suanli order quote`` prices a would-be order; ``order create`` and ``lease show`` print the
lease's quote and whether it is billed at it (``pricing: quoted|list``). No CLI option sets a price."""

from __future__ import annotations

from decimal import Decimal

from cli_harness import Cli

H800 = ("order", "create", "--form", "gpu", "--quantity", "2", "--model", "H800")


def test_quote_then_order_then_show(cli: Cli, tokens: dict[str, str]) -> None:
    quote = cli.json("order", "quote", "--form", "gpu", "--quantity", "2", "--model", "H800", "--hours", "10",
                     token=tokens["acme"])
    assert quote["pricing"] == "quoted" and Decimal(quote["term_total"]) > 0
    assert cli.json("order", "list", token=tokens["acme"]) == []  # a quote orders nothing
    human = cli("order", "quote", "--form", "gpu", "--quantity", "2", "--model", "H800", "--hours", "10",
                token=tokens["acme"])
    assert human.exit_code == 0, human.output
    assert "price quote" in human.stdout and "pricing: quoted" in human.stdout and "per P-year" in human.stdout
    assert quote["term_total"] in human.stdout.replace(",", "")
    placed = cli.json(*H800, "--hours", "10", token=tokens["acme"])
    assert placed["order"]["quote"]["pricing"] == "quoted"
    assert placed["order"]["quote"]["term_total"] == quote["term_total"]  # nothing changed in between
    lease_id = placed["lease"]["id"]
    shown = cli("lease", "show", lease_id, token=tokens["acme"])
    assert "pricing: quoted" in shown.stdout and "term total" in shown.stdout
    assert cli.json("lease", "show", lease_id, token=tokens["acme"])["pricing"] == "quoted"
    open_ended = cli(*H800, token=tokens["acme"])
    assert open_ended.exit_code == 0 and "pricing: list" in open_ended.stdout


def test_no_price_option(cli: Cli, tokens: dict[str, str]) -> None:
    for cmd in (("order", "create"), ("order", "quote")):
        r = cli(*cmd, "--form", "gpu", "--model", "H800", "--price", "0.01", token=tokens["acme"])
        assert r.exit_code == 2 and "--price" in r.output  # no such option
    assert cli.json("order", "list", token=tokens["acme"]) == []

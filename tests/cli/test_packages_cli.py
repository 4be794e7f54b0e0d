"""``suanli package`` as users type it: the operator's products, a tenant's buy at the listed price, the
operator's sale with a reason, and the found attack (a tenant naming its own price) refused."""

from __future__ import annotations

from cli_harness import Cli


def test_products_buy_and_sell_through_the_cli(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    made = cli.json("package", "product", "create", "L20 5 h", "--meter", "device_seconds", "--model", "L20",
                    "--quantity", "5", "--price", "10.00", "--valid-days", "30", "--tier", "10=9", token=op)
    assert made["price"] == "10" and made["tiers"] == [{"min_count": 10, "price": "9"}]
    listed = cli("package", "product", "list", token=acme)
    assert listed.exit_code == 0 and "L20 5 h" in listed.output and ">=10: 9" in listed.output
    bought = cli.json("package", "buy", "L20 5 h", "--count", "12", token=acme)
    assert bought["price"] == "108" and bought["quantity"] == "60" and bought["sold_by"] == ""
    r = cli("package", "product", "price", "L20 5 h", "12", "--tier", "10=11", token=op)
    assert r.exit_code == 0 and "12 per package from now on" in r.output
    assert cli.json("package", "buy", "L20 5 h", token=acme)["price"] == "12"
    sold = cli.json("package", "sell", "--tenant", "acme", "--product", "L20 5 h", "--price", "7.50", "--reason",
                    "launch discount", token=op)
    assert sold["price"] == "7.5" and sold["list_price"] == "12" and sold["reason"] == "launch discount"
    r = cli("package", "list", token=acme)
    assert r.exit_code == 0 and "launch discount" in r.output and r.output.count("L20 5 h") == 3
    assert cli("package", "product", "retire", "L20 5 h", token=op).exit_code == 0
    r = cli("package", "buy", "L20 5 h", token=acme)
    assert r.exit_code == 1 and "retired" in r.output


def test_a_tenant_cannot_name_a_price_or_sell_or_define_products(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    cli.json("package", "product", "create", "L20 5 h", "--meter", "device_seconds", "--model", "L20",
             "--quantity", "5", "--price", "10", "--valid-days", "30", token=op)
    # the command that was accepted before: there is no --price (nor --model, --quantity) on buy any more
    r = cli("package", "buy", "--model", "L20", "--quantity", "1000", "--price", "0.01", token=acme)
    assert r.exit_code == 2 and "No such option" in r.output
    r = cli("package", "sell", "--tenant", "acme", "--product", "L20 5 h", "--price", "0.01", "--reason", "me",
            token=acme)
    assert r.exit_code == 1 and "operator role" in r.output
    r = cli("package", "product", "create", "cheap", "--meter", "device_seconds", "--quantity", "1000", "--price",
            "0.01", "--valid-days", "30", token=acme)
    assert r.exit_code == 1 and "operator role" in r.output
    r = cli("package", "product", "price", "L20 5 h", "0.01", token=acme)
    assert r.exit_code == 1 and "operator role" in r.output
    assert cli.json("package", "list", token=acme) == []


def test_bad_input_is_a_clear_error(cli: Cli, tokens: dict[str, str]) -> None:
    op = tokens["operator"]
    for args, said in (
            (["--quantity", "0", "--price", "1"], "quantity must be > 0"),
            (["--quantity", "5", "--price", "-1"], "price must be > 0"),
            (["--quantity", "5", "--price", "99999999999"], "above the largest allowed"),
            (["--quantity", "5", "--price", "1", "--model", "Z9000"], "unknown model"),
            (["--quantity", "5", "--price", "1", "--site", "moon-1"], "unknown site"),
            (["--quantity", "5", "--price", "1", "--tier", "10=2"], "each tier's price"),
    ):
        r = cli("package", "product", "create", "p", "--meter", "device_seconds", "--valid-days", "30", *args,
                token=op)
        assert r.exit_code == 1 and said in r.output, (args, r.output)
    r = cli("package", "sell", "--tenant", "acme", "--product", "nothing", "--reason", "", token=op)
    assert r.exit_code == 1
    assert cli.json("package", "product", "list", "--all", token=op) == []

"""``suanli member`` as a user types it: the organisation's admin adds a developer with a monthly
limit (its token printed once), the developer orders until the limit refuses (the message names the
limit, what was spent and the cost), the admin raises the limit and lists spend, a finance member
cannot manage members, removing a member stops its token; the operator names the organisation."""

from __future__ import annotations

from cli_harness import Cli

L20_10H = ("order", "create", "--form", "gpu", "--quantity", "1", "--model", "L20", "--hours", "10")


def test_members_through_the_cli(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("member", "add", "ana", "--role", "developer", "--limit", "30", token=acme)
    assert r.exit_code == 0, r.output
    ana = r.stdout.strip().splitlines()[-1]
    assert ana.startswith("sl_") and "developer" in r.stdout and "30 CNY" in r.stdout
    fin = cli.json("member", "add", "fay", "--role", "finance", token=acme)["token"]
    assert "ana (tenant, developer of organisation acme)" in cli("whoami", token=ana).stdout

    assert cli(*L20_10H, token=ana).exit_code == 0  # 26.00 of 30
    r = cli(*L20_10H, token=ana)
    assert r.exit_code == 1 and "limit 30 CNY, spent 26.00 CNY" in r.output and "costs 26.00 CNY" in r.output
    listed = cli("member", "list", token=acme)
    assert listed.exit_code == 0 and "ana" in listed.stdout and "26.00 CNY" in listed.stdout

    assert cli.json("member", "set", "ana", "--limit", "60", token=acme)["spend_limit"] == "60"
    assert cli(*L20_10H, token=ana).exit_code == 0
    assert cli.json("member", "set", "ana", "--no-limit", token=acme)["spend_limit"] is None

    r = cli("member", "add", "eve", "--role", "admin", token=fin)
    assert r.exit_code == 1 and "needs the admin member role" in r.output
    r = cli("member", "set", "ana", "--limit", "1.5.5", token=acme)
    assert r.exit_code == 2 and "not a decimal" in r.output
    r = cli("member", "add", "bob", "--role", "boss", token=acme)
    assert r.exit_code == 1 and "allowed: admin, developer, finance, viewer" in r.output

    # the operator sees any organisation's members; a tenant cannot name another
    assert {m["name"] for m in cli.json("member", "list", "--tenant", "acme", token=op)} == {"ana", "fay"}
    assert cli("member", "list", "--tenant", "acme", token=tokens["globex"]).exit_code == 1

    assert "no longer work" in cli("member", "remove", "ana", token=acme).stdout
    r = cli("whoami", token=ana)
    assert r.exit_code == 1 and "401" not in r.stdout
    assert [m["name"] for m in cli.json("member", "list", token=acme)] == ["fay"]

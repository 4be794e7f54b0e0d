"""``suanli token`` as a user types it: make a read token that expires (secret printed once), list (no
secrets), revoke (it stops working at once); the operator makes one for another account and lists
everyone's; a bad lifetime is a usage error."""

from __future__ import annotations

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_tokens_through_the_cli(cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("token", "create", "--label", "dashboard", "--scope", "read", "--expires-in", "1d", token=acme)
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[-1]
    assert secret.startswith("sl_") and "shown once" in r.stdout and "read" in r.stdout
    listed = cli.json("token", "list", token=acme)
    made = next(t for t in listed if t["label"] == "dashboard")
    assert made["scope"] == "read" and made["state"] == "active" and made["expires_at"]
    assert secret not in cli("token", "list", token=acme).stdout and secret not in str(listed)
    table = cli("token", "list", token=acme)
    assert table.exit_code == 0 and "dashboard" in table.stdout and made["prefix"] in table.stdout

    assert cli("whoami", token=secret).exit_code == 0
    r = cli("order", "create", "--form", "gpu", "--quantity", "1", "--model", "H800", token=secret)
    assert r.exit_code == 1 and "read-only token" in r.output
    r = cli("token", "create", token=secret)
    assert r.exit_code == 1 and "read-only token" in r.output

    assert cli.json("token", "revoke", str(made["id"]), token=acme)["state"] == "revoked"
    r = cli("whoami", token=secret)
    assert r.exit_code == 1 and "revoked" in r.output

    # an expiring token stops when it expires
    short = cli("token", "create", "--expires-in", "90m", token=acme).stdout.strip().splitlines()[-1]
    assert cli("whoami", token=short).exit_code == 0
    clock.advance(minutes=90)
    assert "expired" in cli("whoami", token=short).output

    # the operator: for another account, and everyone's
    issued = cli.json("token", "create", "--for", "acme", "--label", "ci", token=op)
    assert issued["account"] == "acme" and issued["token"].startswith("sl_")
    every = cli.json("token", "list", "--all", token=op)
    assert {t["account"] for t in every} >= {"operator", "acme"}
    assert cli("token", "list", "--all", token=acme).exit_code == 1
    r = cli("token", "revoke", str(every[0]["id"]), token=acme)
    assert r.exit_code == 1 and "no API token" in r.output

    r = cli("token", "create", "--expires-in", "soon", token=acme)
    assert r.exit_code == 2 and "not a duration" in r.output
    r = cli("token", "create", "--label", "x" * 81, token=acme)
    assert r.exit_code == 1 and "80" in r.output

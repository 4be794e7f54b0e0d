"""Hostile values through ``suanli``: the same wire rules as the API (docs/api.md "Input rules"); the
message says what is allowed, the exit status is 1, there is no traceback and nothing is written."""

from __future__ import annotations

import pytest
from cli_harness import Cli


def refused(cli: Cli, *args: str, token: str, says: str) -> None:
    r = cli(*args, token=token)
    assert r.exit_code == 1, (args, r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output and says in r.output, (args, r.output)


@pytest.mark.parametrize(("args", "says"), [
    (("--hours", "1e16"), "above 0 to 87600"),
    (("--hours", "NaN"), "is not a finite number"),
    (("--quantity", "9223372036854775808"), "from 1 to 10000"),
    (("--start", "9999-12-31T00:00:00Z"), "from 2000-01-01 to 2100-01-01"),
    (("--model", "H800\x1b[31m"), "U+001B"),
])
def test_a_hostile_order_is_refused_with_the_rule(cli: Cli, tokens: dict[str, str], args: tuple[str, ...],
                                                  says: str) -> None:
    t = tokens["acme"]
    for verb in ("create", "quote"):
        r = cli("order", verb, "--form", "gpu", *args, token=t)
        if "NaN" in args:  # parsed by the CLI itself: a usage error (exit 2) naming the option
            assert r.exit_code == 2 and says in r.output, r.output
            continue
        refused(cli, "order", verb, "--form", "gpu", *args, token=t, says=says)
    assert cli.json("order", "list", token=t) == []


def test_hostile_money_names_and_jobs_print_the_servers_message(cli: Cli, tokens: dict[str, str]) -> None:
    op, t = tokens["operator"], tokens["acme"]
    before = cli.json("wallet", "show", "--tenant", "acme", token=op)
    refused(cli, "wallet", "top-up", "acme", "1e30", token=op, says="<= 1000000000")
    refused(cli, "wallet", "credit", "acme", "1e255", "--reason", "x", token=op, says="<= 1000000000")
    refused(cli, "wallet", "credit", "acme", "10", "--reason", "x" * 5000, token=op, says="at most 500 characters")
    assert cli.json("wallet", "show", "--tenant", "acme", token=op) == before
    refused(cli, "account", "create", "two words", "--role", "tenant", token=op,
            says="letters A-Z a-z, digits, '-', '_' and '.'")
    refused(cli, "account", "create", "evil\u202e", "--role", "tenant", token=op, says="U+202E")
    lease = cli.json("order", "create", "--form", "gpu", "--quantity", "1", "--model", "A800", token=t)["lease"]["id"]
    refused(cli, "job", "submit", "--lease", lease, "--time-limit", str(10**20), "--", "true", token=t,
            says="from 1 to 31622400")
    refused(cli, "job", "submit", "--lease", lease, "--", "echo", "a\x00b", token=t, says="NUL")
    assert cli.json("job", "list", token=t) == []
    refused(cli, "lease", "end", lease, "--reason", "bye\x07", token=t, says="U+0007")

"""`suanli oversub set|list|offers` and `suanli order create --slice-class burstable` as people type them:
the operator sets a factor, a tenant cannot; bad factors name the range; the burstable order says so."""

from __future__ import annotations

from cli_harness import Cli


def test_operator_sets_a_factor_and_a_tenant_buys_a_burstable_slice(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    args = ("oversub", "set", "--site", "sz-edge-1", "--model", "L20", "--factor", "2", "--discount", "25")
    r = cli(*args, token=acme)
    assert r.exit_code == 1 and "operator" in r.stderr
    r = cli("oversub", "set", "--site", "sz-edge-1", "--model", "L20", "--factor", "0.5", "--discount", "25", token=op)
    assert r.exit_code == 1 and "factor" in r.stderr and "1" in r.stderr
    r = cli("oversub", "set", "--site", "sz-edge-1", "--model", "L20", "--factor", "9", "--discount", "25", token=op)
    assert r.exit_code == 1 and "4" in r.stderr
    assert cli.json(*args, token=op)["factor"] == "2"
    listed = cli("oversub", "list", token=op)
    assert listed.exit_code == 0 and "sz-edge-1" in listed.stdout and "L20" in listed.stdout
    offers = cli("oversub", "offers", token=acme)
    assert offers.exit_code == 0 and "priced 25 % lower" in offers.stdout
    doc = cli.json("order", "create", "--form", "slice", "--share-pct", "50", "--memory-mib", "4096", "--model", "L20",
                   "--slice-class", "burstable", token=acme)
    assert doc["order"]["spec"]["slice_class"] == "burstable"
    assert doc["lease"]["allocations"][0]["sold_milli"] == 500
    shown = cli("lease", "show", doc["lease"]["id"], token=acme)
    assert shown.exit_code == 0 and "0.5 burstable" in shown.stdout
    pool = cli.json("oversub", "list", token=op)
    assert pool["pools"][0]["charged_milli"] == 250
    q = cli("order", "quote", "--form", "slice", "--share-pct", "50", "--memory-mib", "4096", "--model", "L20",
            "--slice-class", "burstable", token=acme)
    assert q.exit_code == 0 and "burstable" in q.stdout
    assert "burstable" in cli("order", "create", "--help").stdout
    assert "Memory is never oversold" in " ".join(cli("oversub", "set", "--help").stdout.replace("│", " ").split())

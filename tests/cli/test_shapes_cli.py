"""`suanli price resource` and `suanli order create --cpu-cores/--ram-gib/--nic-gbps/--disk-gib` (and
--form cpu) as people type them: the operator sets resource prices, a tenant cannot; a shaped order
shows its resource lines; a shape no node holds names the largest node's figure; --help is true."""

from __future__ import annotations

from decimal import Decimal

from cli_harness import Cli


def test_resource_prices_and_a_custom_shape(cli: Cli, tokens: dict[str, str]) -> None:
    op, acme = tokens["operator"], tokens["acme"]
    r = cli("price", "resource", "cpu_core_hour", "0.12", token=acme)
    assert r.exit_code == 1 and "operator" in r.stderr
    r = cli("price", "resource", "gpu_hour", "0.12", token=op)
    assert r.exit_code == 1 and "cpu_core_hour" in r.stderr
    assert cli.json("price", "resource", "cpu_core_hour", "0.12", token=op)[0]["unit"] == "core-hour"
    assert cli.json("price", "resource", "ram_gib_hour", "0.03", token=op)[0]["amount"] == "0.03"
    listed = cli("price", "resource", token=acme)
    assert listed.exit_code == 0 and "cpu_core_hour" in listed.stdout and "ram_gib_hour" in listed.stdout
    q = cli.json("order", "quote", "--form", "gpu", "--model", "L20", "--cpu-cores", "16", "--ram-gib", "64",
                 "--hours", "10", token=acme)
    assert [(x["model"], Decimal(x["term_total"])) for x in q["lines"] if x["basis"] == "resource"] == [
        ("cpu_core_hour", Decimal("9.60"))]  # 8 cores beyond the L20's share x 0.12 x 10 h; 64 GiB is the share
    doc = cli.json("order", "create", "--form", "cpu", "--cpu-cores", "4", "--ram-gib", "16", "--disk-gib", "100",
                   token=acme)
    assert doc["order"]["form"] == "cpu" and doc["order"]["spec"]["disk_gib"] == 100
    r = cli("order", "create", "--form", "cpu", "--cpu-cores", "999", "--ram-gib", "1", token=acme)
    assert r.exit_code == 1 and "the largest has 192 cores" in r.stderr
    helped = " ".join(cli("order", "create", "--help").stdout.replace("│", " ").split())
    assert "--cpu-cores" in helped and "--disk-gib" in helped and "cpu (a CPU-only instance" in helped
    assert "disk_gib_month" in " ".join(cli("price", "resource", "--help").stdout.replace("│", " ").split())

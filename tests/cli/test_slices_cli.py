"""`suanli slice profiles` and `suanli order create --form slice` as people type them: the sizes per model, the
enforcement on the order, the refusal of a size no vNPU template holds, and --help that is true."""

from __future__ import annotations

from cli_harness import Cli


def test_a_tenant_sees_the_sizes_and_orders_an_enforced_slice(cli: Cli, tokens: dict[str, str]) -> None:
    acme = tokens["acme"]
    r = cli("slice", "profiles", "--model", "A100-80GB", token=acme)
    assert r.exit_code == 0 and "mig" in r.stdout and "1g.10gb" in r.stdout and "7g.80gb" in r.stdout
    rows = cli.json("slice", "profiles", token=acme)
    assert {x["model"]: x["enforcement"] for x in rows}["L20"] == "mps"
    made = cli("order", "create", "--form", "slice", "--share-pct", "10", "--memory-mib", "1024", "--model",
               "A100-80GB", token=acme)
    assert made.exit_code == 0 and "enforced by mig:1g.10gb" in made.stdout
    doc = cli.json("order", "create", "--form", "slice", "--share-pct", "25", "--memory-mib", "1024", "--model",
                   "Ascend-910B", token=acme)
    assert doc["order"]["enforcement"] == "vnpu:vir05_1c_16g" and doc["lease"]["enforcement"] == "vnpu:vir05_1c_16g"
    bad = cli("order", "create", "--form", "slice", "--share-pct", "60", "--memory-mib", "1024", "--model",
              "Ascend-910B", token=acme)
    assert bad.exit_code == 1 and "vir10_3c_32g" in bad.stderr
    q = cli("order", "quote", "--form", "slice", "--share-pct", "10", "--memory-mib", "1024", "--model", "L20",
            token=acme)
    assert q.exit_code == 0 and "enforced by mps" in q.stdout
    assert "--allow-unenforced" in cli("order", "create", "--help").stdout
    assert "profiles" in cli("slice", "--help").stdout

"""``suanli economics`` (inputs: set, import CSV/JSON, bad input) and ``suanli report economics|revenue``:
--json equals the API's exact strings; the tables show the figures; operator only."""

from __future__ import annotations

import json
from pathlib import Path

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_inputs_import_set_and_the_reports_equal_the_api(cli: Cli, tokens: dict[str, str], clock: FakeClock,
                                                         tmp_path: Path) -> None:
    op = tokens["operator"]
    f = tmp_path / "capex.csv"
    f.write_text("node,capex,residual,purchased_on\nsz-l20-01,350000,35000,2025-07-01\n"
                 "sz-l20-02,350000.50,0,2025-07-01\n", encoding="utf-8")
    r = cli("economics", "import", str(f), token=op)
    assert r.exit_code == 0, r.output
    assert "2 nodes" in r.stdout
    j = tmp_path / "inputs.json"
    j.write_text(json.dumps({"settings": {"life_years": 4, "discount_rate": "0.07"},
                             "sites": [{"site": "sz-edge-1", "staff": 200000, "racks": "120000"}]}), encoding="utf-8")
    assert cli("economics", "import", str(j), token=op).exit_code == 0
    assert cli("economics", "set", "--price-decline", "0.1", token=op).exit_code == 0
    shown = cli.json("economics", "show", token=op)
    assert shown["settings"]["life_years"] == 4 and shown["settings"]["price_decline"] == "0.1"
    node = next(n for n in shown["nodes"] if n["node"] == "sz-l20-02")
    assert node["capex"] == "350000.50"
    assert next(s for s in shown["sites"] if s["site"] == "sz-edge-1")["total"] == "320000.00"

    cli.json("order", "create", "--form", "gpu", "--quantity", "2", "--model", "L20", token=tokens["acme"])
    clock.advance(hours=3)
    h = {"Authorization": f"Bearer {op}"}
    for report, by in (("economics", "site"), ("revenue", "model")):
        api = cli.http.get(f"/v1/reports/{report}", params={"by": by}, headers=h)
        assert api.status_code == 200, api.text
        assert cli.json("report", report, "--by", by, token=op) == api.json()
    eco = cli.http.get("/v1/reports/economics", params={"by": "site"}, headers=h).json()
    edge = next(g for g in eco["groups"] if g["group"] == "sz-edge-1")
    r = cli("report", "economics", token=op)
    assert r.exit_code == 0, r.output
    for word in ("payback", "break-even price", "sensitivity", "sz-edge-1"):
        assert word in r.stdout
    r = cli("report", "revenue", "--by", "model", token=op)
    assert r.exit_code == 0 and "L20" in r.stdout and "provisional" in r.stdout
    assert edge["capex"] == "700000.50"


def test_bad_inputs_say_the_field(cli: Cli, tokens: dict[str, str], tmp_path: Path) -> None:
    op = tokens["operator"]
    r = cli("economics", "set", "--life-years", "0", token=op)
    assert r.exit_code != 0 and "life_years" in r.output
    r = cli("economics", "capex", "sz-l20-01", "--capex", "-1", "--purchased-on", "2025-01-01", token=op)
    assert r.exit_code != 0 and "capex" in r.output
    f = tmp_path / "bad.csv"
    f.write_text("node,capex,purchased_on\nsz-l20-01,100,2025-01-01\nsz-l20-02,100,not-a-date\n", encoding="utf-8")
    r = cli("economics", "import", str(f), token=op)
    assert r.exit_code != 0 and "purchased_on" in r.output
    assert cli.json("economics", "show", token=op)["nodes"][0]["capex"] is None  # nothing half-written
    r = cli("report", "economics", "--start", "2026-11-20", "--end", "2026-11-01", token=op)
    assert r.exit_code != 0 and "start" in r.output


def test_a_tenant_is_refused(cli: Cli, tokens: dict[str, str]) -> None:
    for argv in (("report", "economics"), ("report", "revenue"), ("economics", "show")):
        r = cli(*argv, token=tokens["acme"])
        assert r.exit_code != 0

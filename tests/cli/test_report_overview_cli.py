"""``suanli report overview``: the same figures as ``GET /v1/reports/overview`` (--json: the API's exact
strings), a readable table, and the operator only."""

from __future__ import annotations

from cli_harness import Cli

from suanli.testing.clock import FakeClock


def test_report_overview_json_equals_the_api_and_the_table_shows_the_figures(
        cli: Cli, tokens: dict[str, str], clock: FakeClock) -> None:
    op = tokens["operator"]
    cli.json("order", "create", "--form", "gpu", "--quantity", "2", "--model", "L20", token=tokens["acme"])
    clock.advance(hours=3)
    api = cli.http.get("/v1/reports/overview", headers={"Authorization": f"Bearer {op}"})
    assert api.status_code == 200, api.text
    assert cli.json("report", "overview", token=op) == api.json()
    o = api.json()
    assert o["allocation"]["now"] != "0" and o["revenue_mtd"]["now"] != "0.00"
    r = cli("report", "overview", token=op)
    assert r.exit_code == 0, r.output
    for figure in ("allocation", "lease rate", "revenue month to date", "run-rate", "idle whole GPUs",
                   "low-runway tenants"):
        assert figure in r.stdout
    assert o["run_rate"]["now"] in r.stdout and o["revenue_mtd"]["now"] in r.stdout


def test_a_tenant_is_refused_the_overview(cli: Cli, tokens: dict[str, str]) -> None:
    r = cli("report", "overview", token=tokens["acme"])
    assert r.exit_code != 0
    assert "overview" in r.output

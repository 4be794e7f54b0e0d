"""``suanli report capacity|energy``: --json equals ``GET /v1/reports/capacity|energy`` for the same period
(the API's exact strings), the table shows each group's figures, bad periods are usage errors or 422s
naming the field, a tenant is refused. The series is sampled by the background pass (FakeClock)."""

from __future__ import annotations

from decimal import Decimal

from cli_harness import Cli

from suanli.service import capacity
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


def _sample(p: Platform, clock: FakeClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance(60)
        capacity.sample(p)


def test_report_capacity_json_equals_the_api_and_the_table_shows_the_groups(
        cli: Cli, tokens: dict[str, str], clock: FakeClock, platform: Platform) -> None:
    op = tokens["operator"]
    start = clock.now()
    cli.json("order", "create", "--form", "gpu", "--quantity", "2", "--model", "L20", token=tokens["acme"])
    _sample(platform, clock, 90)
    period = {"start": start.isoformat(), "end": clock.now().isoformat(), "by": "model"}
    api = cli.http.get("/v1/reports/capacity", params=period, headers={"Authorization": f"Bearer {op}"})
    assert api.status_code == 200, api.text
    args = ["--start", period["start"], "--end", period["end"], "--by", "model"]
    assert cli.json("report", "capacity", *args, token=op) == api.json()
    l20 = next(g for g in api.json()["groups"] if g["group"] == "L20")["figures"]
    assert Decimal(l20["rented_device_hours"]) == 3 and Decimal(l20["lease_rate"]) == Decimal("0.125")  # 2 of 16, 1.5 h
    r = cli("report", "capacity", *args, token=op)
    assert r.exit_code == 0, r.output
    assert "L20" in r.stdout and "12.50 %" in r.stdout and l20["power_cost"] in r.stdout
    energy = cli.http.get("/v1/reports/energy", params={**period, "by": "site"},
                          headers={"Authorization": f"Bearer {op}"})
    assert energy.status_code == 200, energy.text
    assert cli.json("report", "energy", "--start", period["start"], "--end", period["end"], token=op) == energy.json()
    assert energy.json()["total"]["power_cost"] == api.json()["total"]["power_cost"]


def test_bad_periods_are_refused_with_the_field_named(cli: Cli, tokens: dict[str, str]) -> None:
    op = tokens["operator"]
    r = cli("report", "capacity", "--period", "soon", token=op)
    assert r.exit_code == 2 and "24h" in r.output
    r = cli("report", "capacity", "--start", "2026-12-02", "--end", "2026-12-01", token=op)
    assert r.exit_code != 0 and "before" in r.output
    h = {"Authorization": f"Bearer {op}"}
    for params, field in (({"start": "yesterday"}, "start"), ({"by": "tenant"}, "by"), ({"step": "week"}, "step"),
                          ({"start": "2026-01-01", "end": "2026-12-01", "step": "raw"}, "step"),
                          ({"start": "1999-01-01"}, "start"),
                          ({"end": "9999-12-31T23:59:59-01:00"}, "end"),  # past the last date once in UTC
                          ({"start": "0001-01-01T00:00:00+00:06"}, "start")):
        res = cli.http.get("/v1/reports/capacity", params=params, headers=h)
        assert res.status_code == 422, (params, res.text)
        assert res.json()["error"]["details"]["field"] == field, res.text


def test_a_tenant_is_refused_and_a_supplier_reads_its_own_nodes(
        cli: Cli, tokens: dict[str, str], clock: FakeClock, platform: Platform) -> None:
    r = cli("report", "capacity", token=tokens["acme"])
    assert r.exit_code != 0 and "capacity" in r.output
    sup = cli.json("account", "create", "west", "--role", "supplier", "--supplier", "xibu-compute",
                   token=tokens["operator"])["token"]
    _sample(platform, clock, 3)
    out = cli.json("report", "capacity", "--by", "supplier", token=sup)
    assert [g["group"] for g in out["groups"]] == ["xibu-compute"]

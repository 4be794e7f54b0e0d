"""Operator economics over HTTP: investment inputs (validation naming the field, all or nothing,
operator only), the revenue report over a period and the economics report recomputed from its own
inputs with the finance core; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.domain.demo import demo_fleet, demo_investment
from suanli.ledger import finance
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

Http = tuple[TestClient, dict[str, str]]


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def tenant(c: TestClient, op: dict[str, str], name: str) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def put(c: TestClient, op: dict[str, str], body: dict[str, Any]) -> Any:
    return c.put("/v1/economics/inputs", json=body, headers=op)


def audit_rows(p: Platform) -> int:
    with p.read() as s:
        return int(s.execute(text("SELECT count(*) FROM audit_events")).scalar_one())


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"nodes": [{"node": "sz-l20-01", "capex": "-5", "purchased_on": "2026-01-01"}]}, "capex", ">= 0"),
    ({"settings": {"life_years": 0}}, "life_years", "from 1 to 30"),
    ({"settings": {"interest_rate": "1.5"}}, "interest_rate", "between 0 and 1"),
    ({"settings": {"debt_share": "0.5", "loan_years": 0}}, "loan_years", "from 1 to life_years"),
    ({"settings": {"loan_years": 9}}, "loan_years", "from 0 to 5"),
    ({"nodes": [{"node": "sz-l20-01", "capex": "100", "residual": "200", "purchased_on": "2026-01-01"}]},
     "residual", "must not exceed capex"),
    ({"nodes": [{"node": "sz-l20-01", "capex": "100", "purchased_on": "2026-13-01"}]}, "purchased_on", "YYYY-MM-DD"),
    ({"nodes": [{"node": "no-such-node", "capex": "100", "purchased_on": "2026-01-01"}]}, "node", "no node"),
    ({"sites": [{"site": "sz-edge-1", "staff": "-1"}]}, "staff", ">= 0"),
    ({"sites": [{"site": "mars", "staff": "1"}]}, "site", "no site"),
])
def test_bad_input_names_the_field_and_writes_nothing(http: Http, demo: Platform, body: dict[str, Any], field: str,
                                                      words: str) -> None:
    c, op = http
    before = c.get("/v1/economics/inputs", headers=op).json()
    # a good change beside the bad one: all or nothing
    r = put(c, op, {**body, "settings": {**body.get("settings", {}), "discount_rate": "0.1"}}
            if "settings" in body else {**body, "settings": {"discount_rate": "0.1"}})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["details"]["field"] == field and words in err["message"], err
    assert c.get("/v1/economics/inputs", headers=op).json() == before


def test_a_float_is_refused(http: Http) -> None:
    c, op = http
    r = put(c, op, {"nodes": [{"node": "sz-l20-01", "capex": 1.5, "purchased_on": "2026-01-01"}]})
    assert r.status_code == 422 and "capex" in r.text


def test_inputs_round_trip_and_are_audited(http: Http, demo: Platform) -> None:
    c, op = http
    r = c.get("/v1/economics/inputs", headers=op).json()
    assert r["settings"]["life_years"] == 5 and all(n["capex"] is None for n in r["nodes"])
    n0 = audit_rows(demo)
    r = put(c, op, demo_investment(demo_fleet()))
    assert r.status_code == 200 and r.json() == {"settings": True, "sites": 3, "nodes": 17}
    assert audit_rows(demo) > n0
    got = c.get("/v1/economics/inputs", headers=op).json()
    assert got["settings"] == {"life_years": 5, "debt_share": "0.5", "interest_rate": "0.045", "loan_years": 4,
                               "discount_rate": "0.08", "price_decline": "0.1"}
    l20 = next(n for n in got["nodes"] if n["node"] == "sz-l20-01")
    assert (l20["capex"], l20["residual"], l20["purchased_on"]) == ("350000.00", "35000.00", "2025-07-01")
    edge = next(x for x in got["sites"] if x["site"] == "sz-edge-1")
    assert edge["total"] == "400000.00"


@pytest.mark.parametrize(("query", "field"), [
    ({"start": "2026-11-20", "end": "2026-11-10"}, "start"),
    ({"start": "2025-01-01", "end": "2026-11-01"}, "end"),
    ({"start": "yesterday"}, "start"),
    ({"start": "2027-01-01", "end": "2027-02-01"}, "start"),
    ({"by": "tenant"}, "by"),
    ({"start": "1999-01-01", "end": "1999-02-01"}, "start"),
    ({"start": "2026-11-01T00:00:00+99:00"}, "start"),
])
def test_bad_period_or_grouping_is_a_422_naming_it(http: Http, query: dict[str, str], field: str) -> None:
    c, op = http
    for url in ("/v1/reports/economics", "/v1/reports/revenue"):
        r = c.get(url, params=query, headers=op)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["field"] == field


def test_revenue_and_economics_recomputed(http: Http, demo: Platform, clock: FakeClock) -> None:
    c, op = http
    assert put(c, op, demo_investment(demo_fleet())).status_code == 200
    a = tenant(c, op, "acme")
    r = c.post("/v1/orders", json={"form": "server", "quantity": 1, "models": ["L20"]}, headers=a)
    assert r.status_code == 201, r.text
    start = clock.now()
    clock.advance(hours=10)
    q = {"start": start.isoformat(), "end": clock.now().isoformat()}
    rev = c.get("/v1/reports/revenue", params={**q, "by": "model"}, headers=op).json()
    l20 = next(g for g in rev["groups"] if g["group"] == "L20")
    # 8 devices x 10 h x 2.60 (the demo's L20 list price), not issued yet: all provisional
    assert Decimal(l20["revenue"]) == Decimal("208.00") == Decimal(l20["provisional_revenue"])
    assert Decimal(l20["device_hours"]) == 80
    assert l20["realised_price_p_year"] == l20["list_price_p_year"]
    assert Decimal(l20["supplier_share"]) + Decimal(l20["commission"]) == Decimal(l20["revenue"])
    # lease rate: 1 of the 2 L20 servers for the whole period
    assert Decimal(l20["lease_rate"]) == Decimal("0.5")

    eco = c.get("/v1/reports/economics", params={**q, "by": "site"}, headers=op).json()
    edge = next(g for g in eco["groups"] if g["group"] == "sz-edge-1")
    assert edge["revenue"] == "208.00" and edge["capex"] == "1300000.00"  # 2 x 350,000 + 3 x 200,000
    s = eco["settings"]
    rev_year = Decimal(edge["revenue"]) * 8760 / 10
    sigma = Decimal(edge["supplier_share"]) / Decimal(edge["revenue"])
    inv = finance.Investment(Decimal(edge["capex"]), Decimal(edge["residual"]), s["life_years"],
                             Decimal(edge["opex_per_year"]),
                             finance.Financing(Decimal(s["debt_share"]), Decimal(s["interest_rate"]), s["loan_years"]),
                             Decimal(s["discount_rate"]))
    ops = finance.Operations(rev_year, sigma, Decimal(0), Decimal(s["price_decline"]))
    app = finance.appraise(inv, ops)
    assert Decimal(edge["npv"]) == app.npv.quantize(Decimal("0.01"))
    assert edge["revenue_per_year"] == str(rev_year.quantize(Decimal("0.01")))
    assert edge["opex_per_year"] == "400000.00"
    assert Decimal(edge["depreciation_per_year"]) == (Decimal(1_300_000) - Decimal(130_000)) / 5
    pb = None if app.payback_years is None else app.payback_years.quantize(Decimal("0.01"))
    assert edge["payback_years"] == (None if pb is None else str(pb))
    assert app.breakeven_revenue is not None
    assert Decimal(edge["breakeven_revenue_per_year"]) == app.breakeven_revenue.quantize(Decimal("0.01"))
    p = Decimal(edge["p"])
    lr = Decimal(edge["lease_rate"])
    assert Decimal(edge["breakeven_price_p_year"]) == (app.breakeven_revenue / (p * lr)).quantize(Decimal("0.01"))
    price = Decimal(edge["realised_price_p_year"])
    assert Decimal(edge["breakeven_lease_rate"]) == (app.breakeven_revenue / (p * price)).quantize(Decimal("0.0001"))
    assert len(edge["curve"]) == 12 * 5 + 1 and Decimal(edge["curve"][0]) == -Decimal(edge["equity_outlay"])
    assert [Decimal(x["price_decline"]) for x in edge["sensitivity"]] == [Decimal(x) for x in
                                                                          ("0", "0.05", "0.1", "0.15", "0.2")]
    assert edge["energy_cost"] is None
    # gross = revenue - supplier share (no energy figures); net = gross - period's depreciation, opex, interest
    assert Decimal(edge["gross_margin"]) == Decimal(edge["revenue"]) - Decimal(edge["supplier_share"])
    net = Decimal(edge["gross_margin"]) - Decimal(edge["depreciation"]) - Decimal(edge["opex"]) - Decimal(edge["interest"])
    assert Decimal(edge["net_margin"]) == net


def test_issued_month_is_exact_not_provisional(http: Http, clock: FakeClock) -> None:
    c, op = http
    a = tenant(c, op, "acme")
    r = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": ["L20"]}, headers=a)
    assert r.status_code == 201, r.text
    clock.advance(hours=5)
    assert c.post(f"/v1/leases/{r.json()['lease_id']}/end", headers=a).status_code == 200
    clock.advance(hours=24 * 8)  # into December: November can be issued
    r = c.post("/v1/billing/invoices", json={"tenant": "acme", "period": "2026-11"}, headers=op)
    assert r.status_code == 201, r.text
    q = {"by": "supplier", "start": "2026-11-01", "end": "2026-12-01"}
    rev = c.get("/v1/reports/revenue", params=q, headers=op).json()
    assert Decimal(rev["total"]["revenue"]) == Decimal("26.00")  # 2 x 5 h x 2.60
    assert Decimal(rev["total"]["provisional_revenue"]) == 0


def test_reports_never_write(http: Http, demo: Platform, clock: FakeClock) -> None:
    c, op = http
    put(c, op, demo_investment(demo_fleet()))
    a = tenant(c, op, "acme")
    c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=a)
    clock.advance(hours=1)
    n = audit_rows(demo)
    for url in ("/v1/reports/economics", "/v1/reports/revenue", "/v1/economics/inputs"):
        for by in ("site", "model", "supplier", "node"):
            assert c.get(url, params={"by": by}, headers=op).status_code == 200
    assert audit_rows(demo) == n


def test_tenant_and_supplier_cannot_set_or_read(http: Http) -> None:
    c, op = http
    a = tenant(c, op, "acme")
    assert put(c, a, {"settings": {"life_years": 6}}).status_code == 403
    assert c.get("/v1/reports/economics", headers=a).status_code == 403
    assert c.get("/v1/economics/inputs", headers=a).status_code == 403


def test_energy_cost_comes_from_the_capacity_report(http: Http, demo: Platform, operator: Principal,
                                                    clock: FakeClock) -> None:
    from suanli.service import capacity

    c, op = http
    put(c, op, demo_investment(demo_fleet()))
    a = tenant(c, op, "acme")
    assert c.post("/v1/orders", json={"form": "server", "quantity": 1, "models": ["H800"]}, headers=a).status_code == 201
    start = clock.now()
    capacity.sample(demo)
    clock.advance(hours=2)
    capacity.sample(demo)
    q = {"by": "site", "start": start.isoformat(), "end": clock.now().isoformat()}
    eco = c.get("/v1/reports/economics", params=q, headers=op).json()
    assert eco["energy_source"] == "capacity_report"
    cap = capacity.report(demo, operator, start, clock.now(), by="site", step="day")
    sh = next(g for g in eco["groups"] if g["group"] == "sh-east-1")
    fig = next(g for g in cap.groups if g.key == "sh-east-1").figures
    assert fig.observed_seconds > 0 and fig.power_cost > 0
    assert Decimal(sh["energy_cost"]) == fig.power_cost.quantize(Decimal("0.01"))
    assert sh["lease_rate_sampled"] == (None if fig.lease_rate is None else str(fig.lease_rate).rstrip("0").rstrip("."))
    per_year = fig.power_cost * 8760 * 3600 / fig.observed_seconds
    assert Decimal(sh["energy_cost_per_year"]) == per_year.quantize(Decimal("0.01"))
    assert Decimal(sh["gross_margin"]) == Decimal(sh["revenue"]) - Decimal(sh["supplier_share"]) - Decimal(sh["energy_cost"])


@pytest.mark.parametrize(("settings", "field"), [
    ({"life_years": True}, "life_years"), ({"life_years": "２"}, "life_years"), ({"loan_years": 1.0}, "loan_years"),
    ({"life_years": "5.5"}, "life_years"), ({"debt_share": "NaN"}, "debt_share"), ({"price_decline": "-0.1"}, "price_decline"),
])
def test_hostile_settings_are_refused(http: Http, settings: dict[str, Any], field: str) -> None:
    c, op = http
    r = put(c, op, {"settings": settings})
    assert r.status_code == 422, r.text
    assert field in r.text

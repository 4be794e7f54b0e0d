"""What-if (sim.whatif): deterministic, priced through the ledger, changes move the figures as they should."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.errors import ValidationError
from suanli.sim.dynamic import SimulationCancelled
from suanli.sim.pricing import PriceList
from suanli.sim.whatif import (
    AddNodes,
    Change,
    FleetNode,
    LiveSnapshot,
    PastOrder,
    SiteInfo,
    estimate_events,
    run,
)

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _snap(orders: int = 120, days: int = 2) -> LiveSnapshot:
    cat = builtin_catalog()
    models = {m: cat.get(m) for m in ("H800", "L20")}
    nodes = tuple([FleetNode(f"h{i}", "east", "sup-a", "H800", 8, 128, "east/ib") for i in range(3)]
                  + [FleetNode(f"l{i}", "edge", "sup-b", "L20", 8, 64, f"edge/l{i}") for i in range(2)]
                  + [FleetNode("down1", "east", "sup-a", "H800", 8, 128, "east/ib", available=False, switched_on=False)])
    sites = (SiteInfo("east", Decimal("1.30"), Decimal("0.85")), SiteInfo("edge", Decimal("2.00"), Decimal("1.05")))
    book = PriceBook([PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(90000), "CNY", datetime(2026, 1, 1, tzinfo=UTC)),
                      PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY",
                                 datetime(2026, 1, 1, tzinfo=UTC))], models)
    prices = PriceList(book, models, {("sup-a", "H800"): Decimal("7.00")}, Decimal("0.15"), "CNY", "live list")
    past = []
    for k in range(orders):
        model = "H800" if k % 3 else "L20"
        past.append(PastOrder(f"t{k % 7}", arrival_s=k * days * 86400 / orders, duration_s=3600.0 * (1 + k % 9),
                              model=model, devices=1 + k % 4, milli=1000, running=k >= orders - 5))
    return LiveSnapshot(AT, days, nodes, sites, models, prices, tuple(past), "fgd+")


def test_same_seed_same_numbers_and_baseline_is_the_unchanged_run() -> None:
    snap = _snap()
    a = run(snap, Change(growth=Decimal("1.5")), seed=7)
    b = run(snap, Change(growth=Decimal("1.5")), seed=7)
    assert a.to_json() == b.to_json()
    c = run(snap, Change(), seed=7)
    assert c.baseline == c.changed == a.baseline  # no change: both runs are the baseline
    assert a.baseline.revenue > 0 and isinstance(a.baseline.revenue, Decimal)
    assert a.baseline.revenue == a.baseline.supplier_share + a.baseline.commission
    assert a.baseline.margin == a.baseline.revenue - a.baseline.supplier_share - a.baseline.energy_cost
    assert a.changed.orders > a.baseline.orders  # growth 1.5: more arrivals


def test_price_up_10_percent_without_demand_response_raises_revenue_10_percent() -> None:
    snap = _snap()
    r = run(snap, Change(price_change_pct=Decimal(10)))
    assert r.changed.device_hours == r.baseline.device_hours  # same placements, same time served
    # every line is rounded once to the cent: at most half a cent per line apart
    lines = len(r.baseline.revenue_by_model) * len(snap.nodes)
    assert abs(r.changed.revenue - r.baseline.revenue * Decimal("1.1")) <= Decimal("0.005") * lines
    assert r.changed.energy_cost == r.baseline.energy_cost


def test_price_change_with_elasticity_moves_demand() -> None:
    snap = _snap()
    r = run(snap, Change(price_change_pct=Decimal(-20), elasticity=Decimal(-2)))
    assert r.changed.orders > r.baseline.orders  # 20 % cheaper, elasticity -2: 40 % more arrivals


def test_added_nodes_raise_capacity_and_removed_nodes_lower_it() -> None:
    snap = _snap(orders=400)
    r = run(snap, Change(add_nodes=(AddNodes("H800", 2, "east"),)))
    assert r.changed.available_devices == r.baseline.available_devices + 16
    assert r.changed.available_device_hours > r.baseline.available_device_hours
    assert r.changed.rejected <= r.baseline.rejected
    gone = run(snap, Change(remove_nodes=("h0", "h1")))
    assert gone.changed.available_devices == gone.baseline.available_devices - 16
    assert gone.changed.device_hours <= gone.baseline.device_hours


def test_down_node_counts_in_allocation_not_in_lease_rate() -> None:
    r = run(_snap(), Change()).baseline
    assert r.devices == 48 and r.available_devices == 40
    assert r.lease_rate_pct >= r.allocation_pct


@pytest.mark.parametrize(("change", "field"), [
    (Change(policy="nope"), "policy"), (Change(growth=Decimal(0)), "growth"), (Change(growth=Decimal(101)), "growth"),
    (Change(price_change_pct=Decimal(-100)), "price_change_pct"), (Change(price_models=("X1",)), "price_models"),
    (Change(add_nodes=(AddNodes("H800", 1, "mars"),)), "add_nodes[0].site"),
    (Change(add_nodes=(AddNodes("Z9", 1, "east"),)), "add_nodes[0].model"),
    (Change(remove_nodes=("ghost",)), "remove_nodes"), (Change(elasticity=Decimal(11)), "elasticity"),
])
def test_bad_changes_name_the_field_and_what_is_allowed(change: Change, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        run(_snap(10), change)
    assert e.value.details.get("field") == field
    assert "allowed" in e.value.message or "must" in e.value.message


def test_cancel_stops_the_run_and_progress_reaches_one() -> None:
    snap = _snap()
    seen: list[float] = []
    run(snap, Change(), progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    calls = [0]

    def cancel() -> bool:
        calls[0] += 1
        return calls[0] > 3

    with pytest.raises(SimulationCancelled):
        run(snap, Change(), progress=lambda _: None, cancelled=cancel)


def test_estimate_grows_with_orders_and_growth() -> None:
    snap = _snap()
    assert estimate_events(snap, Change(growth=Decimal(10))) > estimate_events(snap, Change()) > 0


def test_payback_is_the_finance_core_on_the_run_rates() -> None:
    from dataclasses import replace
    from datetime import date

    from suanli.domain.investment import InvestmentSettings, NodeCapex

    snap = _snap()
    assert run(snap, Change()).baseline.payback_years is None  # no investment inputs: no payback
    capex = {n.name: NodeCapex(n.name, Decimal(100000), date(2026, 1, 1)) for n in snap.nodes if n.model == "H800"}
    snap = replace(snap, capex=capex, investment=InvestmentSettings(life_years=5, discount_rate=Decimal("0.08")))
    r = run(snap, Change(add_nodes=(AddNodes("H800", 1, "east"),)))
    b = r.baseline
    # no debt, no opex, no residual, no price decline: payback = capex / yearly (revenue - share - energy)
    yearly = (b.revenue - b.supplier_share - b.energy_cost) * Decimal(365) / snap.days
    assert b.payback_years == (Decimal(400000) / yearly).quantize(Decimal("0.01"))
    c = r.changed  # the added H800 node at the mean capex per H800 device (4 nodes of 8: 100,000 per node)
    yearly_c = (c.revenue - c.supplier_share - c.energy_cost) * Decimal(365) / snap.days
    assert c.payback_years == (Decimal(500000) / yearly_c).quantize(Decimal("0.01"))
    # a model without capex to go by: no payback for the changed fleet
    assert run(snap, Change(add_nodes=(AddNodes("L20", 1, "east"),))).changed.payback_years is None


def test_energy_is_the_capacity_reports_power_model() -> None:
    from dataclasses import replace

    snap = replace(_snap(), orders=())  # nothing rented: every switched-on device draws 30 % of its TDP
    idle = run(snap, Change()).baseline
    hours = Decimal(snap.days * 24)
    # 3 H800 (700 W) at east (PUE 1.30, 0.85/kWh), 2 L20 (275 W) at edge (PUE 2.00, 1.05/kWh); down1 is off
    east = Decimal("0.3") * 700 * 8 * 3 * hours / 1000 * Decimal("1.30")
    edge = Decimal("0.3") * 275 * 8 * 2 * hours / 1000 * Decimal("2.00")
    assert idle.energy_kwh == (east + edge).quantize(Decimal("0.001"))
    assert idle.energy_cost == (east * Decimal("0.85") + edge * Decimal("1.05")).quantize(Decimal("0.01"))
    busy = run(_snap(), Change()).baseline  # rented device-hours add 70 % of TDP each
    assert busy.energy_kwh > idle.energy_kwh

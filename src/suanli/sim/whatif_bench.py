"""A what-if snapshot of the demo fleet with a synthetic order history, for ``suanli whatif bench``.

The fleet, sites, list prices and floors are the demo operator's (:func:`suanli.domain.demo.demo_fleet`);
the history is ``orders`` orders over ``days`` days (seeded): whole GPUs 1, 2, 4 or 8 (or a quarter of
one), of the fleet's models in proportion to their devices, durations log-normal (median 2 h).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.clock import EARLIEST
from suanli.domain.demo import demo_fleet
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.sim.pricing import PriceList
from suanli.sim.whatif import FleetNode, LiveSnapshot, PastOrder, SiteInfo

AT = datetime(2026, 12, 1, tzinfo=UTC)


def demo_snapshot(orders: int = 2000, days: int = 7, seed: int = 1) -> LiveSnapshot:
    doc = demo_fleet()
    cat = builtin_catalog()
    models = {m.name: m for m in cat}
    nodes = tuple(FleetNode(n["name"], n["site"], n["supplier"], cat.get(n["devices"]["model"]).name,
                            n["devices"]["count"], n["cpu_cores"], n["fabric"]) for n in doc["nodes"])
    sites = tuple(SiteInfo(x["name"], Decimal(x["pue"]), Decimal(x["power_price_kwh"])) for x in doc["sites"])
    book = PriceBook([PriceEntry(cat.get(p["model"]).name, p.get("site"), PriceUnit(p["unit"]), Decimal(p["amount"]),
                                 "CNY", EARLIEST) for p in doc["prices"]], models)
    floors = {(f["supplier"], cat.get(f["model"]).name): Decimal(f["device_hour"]) for f in doc["floors"]}
    prices = PriceList(book, models, floors, Decimal("0.15"), "CNY", "the demo list prices")
    rng = np.random.default_rng(seed)
    fleet_models = [n.model for n in nodes for _ in range(n.devices)]
    window = days * 86400.0
    past = []
    for k in range(orders):
        size = int(rng.choice([1, 1, 2, 4, 8]))
        share = rng.random() < 0.1
        past.append(PastOrder(f"t{k % 40}", float(rng.uniform(0, window)), float(rng.lognormal(np.log(7200), 1.0)),
                              fleet_models[int(rng.integers(len(fleet_models)))], 1 if share else size,
                              250 if share else 1000))
    past.sort(key=lambda o: o.arrival_s)
    return LiveSnapshot(AT, days, nodes, sites, models, prices, tuple(past), "fgd+")

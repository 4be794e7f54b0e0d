"""``suanli report overview``: the operator's start-page figures (the console's home page), as a table or --json."""

from __future__ import annotations

from decimal import Decimal

import typer

from suanli.api.schemas.overview import FractionTrend, MoneyTrend
from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json, show, table, when
from suanli.client.overview import OverviewClient


def _pct(x: Decimal | None) -> str:
    return "-" if x is None else f"{x * 100:.2f} %"


def _money(x: Decimal | None) -> str:
    return "-" if x is None else f"{x:f}"


def _signed(x: Decimal | None, fmt: str) -> str:
    if x is None:
        return "-"
    s = _pct(x) if fmt == "pct" else _money(x)
    return s if x < 0 else f"+{s}"


def overview(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Allocation vs measured utilisation, lease rate, revenue month to date vs last month (same time),
    hourly run-rate, energy cost, margin, and the counts that need a look (operator only).

    Comparisons: allocation and run-rate with 24 h earlier; lease rate: the last 24 h with the 24 h before;
    money: this month to date with last month over the same time. --json prints the API's exact strings."""
    with client(ctx) as api:
        o = OverviewClient(api).overview()
    if as_json:
        print_json(o)
        return
    rows: list[list[str]] = []
    fractions: list[tuple[str, FractionTrend]] = [("allocation", o.allocation), ("measured utilisation", o.utilisation),
                                                  ("lease rate (24 h)", o.lease_rate)]
    for label, f in fractions:
        rows.append([label, _pct(f.now), _pct(f.before), _signed(f.delta, "pct")])
    monies: list[tuple[str, MoneyTrend]] = [("revenue month to date", o.revenue_mtd),
                                            ("commission month to date", o.commission_mtd),
                                            ("margin month to date", o.margin_mtd), ("run-rate per hour", o.run_rate)]
    for label, m in monies:
        rows.append([f"{label} ({o.currency})", _money(m.now), _money(m.before), _signed(m.delta, "money")])
    rows.append([f"energy cost today / month ({o.currency})",
                 f"{_money(o.energy_cost_today)} / {_money(o.energy_cost_mtd)}", "", ""])
    rows.append([f"power cost per hour now ({o.currency})", _money(o.power_cost_per_hour), "", ""])
    rows.append(["idle: fragmented / unrented / down (device-eq.)",
                 f"{o.idle.fragmented:f} / {o.idle.unrented:f} / {o.idle.down:f}", "", ""])
    c = o.counts
    counts: list[tuple[str, object]] = [("idle whole GPUs", c.idle_whole_gpus), ("fragmented GPUs", c.fragmented_gpus),
              ("down nodes", c.down_nodes), ("maintenance nodes", c.maintenance_nodes),
              ("suspended leases", c.suspended_leases), ("interrupted leases", c.interrupted_leases),
              ("unpaid invoices", c.unpaid_invoices),
              ("low-runway tenants", f"{c.low_runway_tenants}" + (f" ({', '.join(o.low_runway)})" if o.low_runway else ""))]
    show(table(f"overview as of {when(o.as_of)} ({o.devices} devices on available nodes)",
               ["figure", ("now", "right"), ("compared with", "right"), ("change", "right")], rows),
         table("needs a look", ["count", ("now", "right")], [[k, str(v)] for k, v in counts],
               caption="; ".join(f"{k}: {v}" for k, v in o.sources.items())))

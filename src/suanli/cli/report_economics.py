"""``suanli report economics`` and ``suanli report revenue``: per site, model, supplier or node over a
period, as tables or --json (the API's exact strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import dec, print_json, show, table, when
from suanli.client.economics import EconomicsClient

ByOpt = Annotated[str, typer.Option("--by", help="Group by site, model, supplier or node.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="Start, ISO date (UTC midnight) or date-time; "
                                                              "default: the 1st of this month.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="End (exclusive), ISO date or date-time; default: now. "
                                                          "At most 366 days after the start.")]


ENERGY = {"capacity_report": "from the capacity report (the time it sampled)",
          "none": "not sampled yet (counted as 0)"}


def _pct(x: Decimal | None, places: int = 2) -> str:
    return "-" if x is None else f"{dec(x * 100, places)} %"


def _years(x: Decimal | None) -> str:
    return "not within life" if x is None else f"{x:f}"


def economics(ctx: typer.Context, by: ByOpt = "site", start: StartOpt = None, end: EndOpt = None,
              as_json: JsonOpt = False) -> None:
    """Per group: capex, depreciation, revenue and run-rate, margins, payback, IRR, NPV, break-even
    price and lease rate, and the sensitivity to a yearly price decline (operator).

    The inputs (capex per node, opex per site, life, financing, discount rate, price decline) are set with
    `suanli economics set|opex|capex` or imported with `suanli economics import FILE` (CSV or JSON).
    Formulas: docs/economics.md."""
    with client(ctx) as api:
        r = EconomicsClient(api).economics(by, start, end)
    if as_json:
        print_json(r)
        return
    s = r.settings
    cur = r.currency
    head = (f"economics by {r.by}, {when(r.start)} to {when(r.end)} ({r.days:f} days); life {s.life_years} y, "
            f"debt {_pct(s.debt_share)} at {_pct(s.interest_rate)} over {s.loan_years} y, discount {_pct(s.discount_rate)}, "
            f"price decline {_pct(s.price_decline)}/y; energy: "
            f"{ENERGY.get(r.energy_source, r.energy_source)}")
    money = table(f"{head}\nmoney in the period ({cur})",
                  [r.by, ("revenue", "right"), ("of it provisional", "right"), ("supplier share", "right"),
                   ("energy", "right"), ("gross margin", "right"), ("depreciation", "right"), ("opex", "right"),
                   ("interest", "right"), ("net margin", "right")],
                  [[g.group or "(operator's own)", dec(g.revenue), dec(g.provisional_revenue), dec(g.supplier_share),
                    dec(g.energy_cost), dec(g.gross_margin), dec(g.depreciation), dec(g.opex), dec(g.interest),
                    dec(g.net_margin)] for g in r.groups])
    prices = table(f"run-rate and prices ({cur}; prices per P-year)",
                   [r.by, ("capex", "right"), ("revenue / year", "right"), ("lease rate", "right"),
                    ("realised price", "right"), ("list price", "right")],
                   [[g.group or "(operator's own)", dec(g.capex), dec(g.revenue_per_year), _pct(g.lease_rate),
                     dec(g.realised_price_p_year), dec(g.list_price_p_year)] for g in r.groups])
    invest = table(f"investment over the life ({cur})",
                   [r.by, ("payback (years)", "right"), ("IRR", "right"), ("NPV", "right"),
                    ("break-even price", "right"), ("break-even lease rate", "right")],
                   [[g.group or "(operator's own)", _years(g.payback_years), _pct(g.irr), dec(g.npv),
                     dec(g.breakeven_price_p_year), _pct(g.breakeven_lease_rate)] for g in r.groups])
    declines = [x.price_decline for x in r.groups[0].sensitivity] if r.groups else []
    sens = table("sensitivity: payback (years) / NPV by yearly price decline",
                 [r.by, *[(f"{_pct(d, 0)}", "right") for d in declines]],
                 [[g.group or "(operator's own)",
                   *[f"{_years(x.payback_years)} / {dec(x.npv, 0)}" for x in g.sensitivity]] for g in r.groups])
    show(money, prices, invest, sens)
    o = r.oversubscription  # OVERSUB: docs/slices.md "Oversubscription"
    if o is not None and (o.in_force or o.burstable_revenue):
        show(table(f"oversubscription in force; burstable slices brought {dec(o.burstable_revenue)} {cur} in the "
                   f"period, {dec(o.extra_revenue)} {cur} more than their device capacity sold guaranteed (list price)",
                   ["site", "model", ("factor", "right"), ("discount %", "right"), "offered"],
                   [[f.site, f.model, dec(f.factor, 2), dec(f.discount_pct, 2), "yes" if f.offered else "no"]
                    for f in o.in_force]))


def revenue(ctx: typer.Context, by: ByOpt = "site", start: StartOpt = None, end: EndOpt = None,
            as_json: JsonOpt = False) -> None:
    """Revenue, supplier share, commission, device-hours, realised vs list price per P-year and lease
    rate per group over a period (operator). Issued invoices are exact; drafts of invoices not issued
    yet are provisional (their part is shown apart)."""
    with client(ctx) as api:
        r = EconomicsClient(api).revenue(by, start, end)
    if as_json:
        print_json(r)
        return
    rows = [[g.group or "(operator's own)", dec(g.revenue), dec(g.provisional_revenue), dec(g.supplier_share),
             dec(g.commission), dec(g.device_hours), dec(g.realised_price_p_year), dec(g.list_price_p_year),
             _pct(g.lease_rate)] for g in r.groups]
    t = r.total
    rows.append(["total", dec(t.revenue), dec(t.provisional_revenue), dec(t.supplier_share), dec(t.commission),
                 dec(t.device_hours), dec(t.realised_price_p_year), dec(t.list_price_p_year), _pct(t.lease_rate)])
    show(table(f"revenue by {r.by}, {when(r.start)} to {when(r.end)} ({r.currency}; prices per P-year)",
               [r.by, ("revenue", "right"), ("provisional", "right"), ("supplier share", "right"),
                ("commission", "right"), ("device-hours", "right"), ("realised price", "right"),
                ("list price", "right"), ("lease rate", "right")], rows, caption=r.note))

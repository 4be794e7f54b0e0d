"""Operator economics: the investment inputs (operator only, audit-recorded) and the economics
report per site, model, supplier or node over a period.

**Inputs.** :func:`set_inputs` validates every entry first (a 422 names the field and what is
allowed) and writes them in one transaction, so nothing is half-written; the audit recorder keeps
each change (:mod:`suanli.store.audit_recorder`).

**Per group** (the nodes of a site, of a model, owned now by a supplier, or one node):

- capex and residual: the sum over the group's nodes that have a capex entry (the others are
  counted in ``nodes_without_capex``); depreciation per year = (capex − residual) / life.
- opex per year: a site's fixed opex; a node carries its site's opex in proportion to its compute
  (P; equal shares on a site with no P), so the groups of any ``by`` add up to the sites' opex.
- revenue, supplier share, lease rate and realised price: :mod:`suanli.service.revenue_report`
  (``lease_rate_sampled``: the capacity series' lease rate over the time it sampled, for comparison);
  the run-rate per year = the period's revenue × 8,760 / the period's hours.
- energy cost: from the capacity report (:func:`energy_seam`): the power cost of the time it
  sampled inside the period (it has no figures for time not sampled); per year = that × 8,760 h ÷
  the sampled hours; ``null`` and counted as 0 when nothing was sampled.
- period costs: depreciation = each node's yearly depreciation × the years of the period inside
  its life (from its purchase date); opex = opex per year × the period's years; interest = the
  loan's total interest ÷ the life × the period's years.
- gross margin = revenue − supplier share − energy; net margin = gross − depreciation − opex − interest
  (from the figures rounded to the cent, so they add up as shown).
- the appraisal (payback, IRR, NPV, break-even, sensitivity, monthly payback curve) of
  :mod:`suanli.ledger.finance` over the life, from capex, the run-rates and the settings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.fleet import Node
from suanli.domain.investment import (
    InvestmentSettings,
    NodeCapex,
    SiteOpex,
    check_capex,
    check_opex,
    check_settings,
)
from suanli.domain.money import HOURS_PER_YEAR
from suanli.errors import ValidationError
from suanli.ledger import finance
from suanli.service import capacity, oversub
from suanli.service import revenue_report as rr
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store
from suanli.store import investment as store

ZERO = Decimal(0)
Energy = tuple[Decimal, Decimal, Decimal | None]
"""(power cost, seconds sampled, lease rate) of a group over the period, from the capacity series."""
EnergyCost = Callable[[str, rr.Period], Mapping[str, Energy] | None]
"""The seam to the capacity report: (by, period) -> :data:`Energy` per group, or None."""


def settings_doc(v: InvestmentSettings) -> dict[str, Any]:
    r = rr.rate6
    return {"life_years": v.life_years, "debt_share": r(v.debt_share), "interest_rate": r(v.interest_rate),
            "loan_years": v.loan_years, "discount_rate": r(v.discount_rate), "price_decline": r(v.price_decline)}


def capex_doc(c: NodeCapex) -> dict[str, Any]:
    return {"node": c.node, "capex": rr.cents(c.capex), "residual": rr.cents(c.residual),
            "purchased_on": c.purchased_on.isoformat(),
            "currency": c.currency}


def opex_doc(o: SiteOpex) -> dict[str, Any]:
    c = rr.cents
    return {"site": o.site, "staff": c(o.staff), "racks": c(o.racks), "bandwidth": c(o.bandwidth),
            "other": c(o.other), "total": c(o.total)}


def get_inputs(p: Platform, actor: Principal) -> dict[str, Any]:
    """The settings, every site's opex (zeros where none was entered) and every node's capex (null
    where none was entered)."""
    authorize(actor, Action.READ_ECONOMICS)
    with p.read() as s:
        v = store.get_settings(s)
        capex = {c.node: c for c in store.list_capex(s)}
        opex = {o.site: o for o in store.list_opex(s)}
        sites = fleet_store.list_sites(s)
        nodes = fleet_store.list_nodes(s)
    return {"currency": p.settings.currency, "settings": settings_doc(v),
            "sites": [opex_doc(opex.get(x.name, SiteOpex(x.name))) for x in sites],
            "nodes": [{"node": n.name, "site": n.site, "model": n.model, "devices": n.device_count,
                       "supplier": n.supplier,
                       **(capex_doc(capex[n.name]) if n.name in capex else
                          {"capex": None, "residual": None, "purchased_on": None, "currency": p.settings.currency})}
                      for n in nodes]}


def set_inputs(p: Platform, actor: Principal, *, settings: Mapping[str, Any] | None = None,
               sites: Sequence[Mapping[str, Any]] = (), nodes: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Change the settings (the fields given), sites' opex and nodes' capex, all or nothing."""
    authorize(actor, Action.SET_INVESTMENT)
    now = p.clock.now()
    with p.tx() as s:
        v = check_settings(settings, store.get_settings(s)) if settings else None
        site_names = {x.name for x in fleet_store.list_sites(s)}
        node_names = {n.name for n in fleet_store.list_nodes(s)}
        opex: list[SiteOpex] = []
        for i, raw in enumerate(sites):
            name = str(raw.get("site") or "")
            if name not in site_names:
                raise ValidationError(f"sites[{i}].site: no site {name!r}; allowed: {', '.join(sorted(site_names))}",
                                      field="site", site=name)
            opex.append(check_opex(name, raw))
        capex: list[NodeCapex] = []
        seen: set[str] = set()
        for i, raw in enumerate(nodes):
            name = str(raw.get("node") or "")
            if name not in node_names:
                raise ValidationError(f"nodes[{i}].node: no node {name!r} in the fleet (`suanli fleet list`)",
                                      field="node", node=name)
            if name in seen:
                raise ValidationError(f"nodes[{i}].node: {name!r} is listed twice", field="node", node=name)
            seen.add(name)
            capex.append(check_capex(name, raw, p.settings.currency, where=f"node {name}: "))
        if v is not None:
            store.save_settings(s, v, now)
        for o in opex:
            store.save_opex(s, o, now)
        for c in capex:
            store.save_capex(s, c, now)
    return {"settings": v is not None, "sites": len(opex), "nodes": len(capex)}


# -- the report ---------------------------------------------------------------------------------


def _q(d: Decimal, places: str) -> Decimal:
    return d.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _opt(d: Decimal | None, places: str) -> Decimal | None:
    return None if d is None else _q(d, places)


def _years_inside(c: NodeCapex, life: int, period: rr.Period) -> Decimal:
    """Years of the period inside the node's life [purchase, purchase + life)."""
    a = datetime(c.purchased_on.year, c.purchased_on.month, c.purchased_on.day, tzinfo=UTC)
    end_day = _add_years(c.purchased_on, life)
    b = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)
    lo, hi = max(a, period.start), min(b, period.end)
    if hi <= lo:
        return ZERO
    return Decimal(int((hi - lo).total_seconds())) / 3600 / HOURS_PER_YEAR


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _node_opex(nodes: Sequence[Node], opex: Mapping[str, SiteOpex], device_p: Mapping[str, Decimal]
               ) -> dict[str, Decimal]:
    """Each node's share of its site's opex per year (by P; equal on a site with no P)."""
    by_site: dict[str, list[Node]] = defaultdict(list)
    for n in nodes:
        by_site[n.site].append(n)
    out: dict[str, Decimal] = {}
    for site, ns in by_site.items():
        total = opex[site].total if site in opex else ZERO
        ps = {n.name: n.device_count * device_p.get(n.model, ZERO) for n in ns}
        whole = sum(ps.values(), ZERO)
        for n in ns:
            out[n.name] = total * ps[n.name] / whole if whole > 0 else total / len(ns)
    return out


def group_doc(key: str, nodes: Sequence[Node], sums: rr.Sums, *, capex: Mapping[str, NodeCapex],
              node_opex: Mapping[str, Decimal], energy: Energy | None, device_p: Mapping[str, Decimal],
              v: InvestmentSettings, period: rr.Period) -> dict[str, Any]:
    """One group's figures (see the module docstring)."""
    mine = [capex[n.name] for n in nodes if n.name in capex]
    cap = sum((c.capex for c in mine), ZERO)
    residual = sum((c.residual for c in mine), ZERO)
    p_total = rr.capacity_p(nodes, device_p)
    opex_year = sum((node_opex.get(n.name, ZERO) for n in nodes), ZERO)
    per_year = HOURS_PER_YEAR / period.hours
    revenue_year = sums.revenue * per_year
    energy_cost = None if energy is None else energy[0]
    measured_lr = None if energy is None else energy[2]
    energy_year = energy[0] * HOURS_PER_YEAR * 3600 / energy[1] if energy is not None and energy[1] > 0 else ZERO
    sigma = sums.supplier_share / sums.revenue if sums.revenue > 0 else ZERO
    inv = finance.Investment(cap, residual, v.life_years, opex_year,
                             finance.Financing(v.debt_share, v.interest_rate, v.loan_years), v.discount_rate)
    ops = finance.Operations(revenue_year, sigma, energy_year, v.price_decline)
    a = finance.appraise(inv, ops)
    lr = rr.lease_rate(sums, p_total, period)
    realised = sums.device_revenue / sums.p_years if sums.p_years else None
    # from the figures as shown (lease rate to 6 places, realised price to the cent): recomputable by hand
    shown_lr = _opt(lr, "0.000001")
    shown_price = None if realised is None else rr.cents(realised)
    be_price = finance.breakeven_price(a.breakeven_revenue, p_total, shown_lr or ZERO)
    be_lease = finance.breakeven_lease_rate(a.breakeven_revenue, p_total, shown_price or ZERO)
    depreciation = sum(((c.capex - c.residual) / v.life_years * _years_inside(c, v.life_years, period)
                        for c in mine), ZERO)
    opex = opex_year * period.years
    interest = a.interest_total / v.life_years * period.years
    c = rr.cents
    # from the figures as shown (each to the cent), so the margins add up on the page
    gross = c(sums.revenue) - c(sums.supplier_share) - c(energy_cost or ZERO)
    net = gross - c(depreciation) - c(opex) - c(interest)
    return {
        "group": key, "nodes": len(nodes), "devices": sum(n.device_count for n in nodes),
        "p": p_total, "nodes_without_capex": len(nodes) - len(mine),
        "capex": c(cap), "residual": c(residual), "depreciation_per_year": c(a.depreciation),
        "opex_per_year": c(opex_year), "revenue": c(sums.revenue), "provisional_revenue": c(sums.provisional),
        "revenue_per_year": c(revenue_year), "supplier_share": c(sums.supplier_share),
        "supplier_share_rate": _q(sigma, "0.000001"),
        "energy_cost": None if energy_cost is None else c(energy_cost), "energy_cost_per_year": c(energy_year),
        "depreciation": c(depreciation), "opex": c(opex), "interest": c(interest),
        "gross_margin": gross, "net_margin": net,
        "lease_rate": shown_lr, "lease_rate_sampled": measured_lr, "realised_price_p_year": shown_price,
        "list_price_p_year": c(sums.list_amount / sums.p_years) if sums.p_years else None,
        "debt": c(a.debt), "annuity": c(a.annuity), "equity_outlay": c(a.equity_outlay),
        "payback_years": _opt(a.payback_years, "0.01"), "irr": _opt(a.irr, "0.0001"), "npv": c(a.npv),
        "breakeven_revenue_per_year": _opt(a.breakeven_revenue, "0.01"),
        "breakeven_price_p_year": _opt(be_price, "0.01"), "breakeven_lease_rate": _opt(be_lease, "0.0001"),
        "sensitivity": [{"price_decline": x.price_decline, "payback_years": _opt(x.payback_years, "0.01"),
                         "npv": c(x.npv), "irr": _opt(x.irr, "0.0001")} for x in finance.sensitivity(inv, ops)],
        "curve": list(a.curve),
    }


def economics_report(p: Platform, actor: Principal, by: str = "site", start: str | None = None,
                     end: str | None = None, *, energy: EnergyCost | None = None) -> dict[str, Any]:
    """Per group of ``by`` over the period: the money, the margins and the appraisal (module docstring)."""
    authorize(actor, Action.READ_ECONOMICS)
    by = rr.check_by(by)
    period = rr.parse_period(start, end, p.clock.now())
    found = rr.lines(p, actor, period)
    with p.read() as s:
        device_p = {m.name: m.p for m in p.catalog(s)}
        nodes = fleet_store.list_nodes(s)
        v = store.get_settings(s)
        capex = {c.node: c for c in store.list_capex(s)}
        opex = {o.site: o for o in store.list_opex(s)}
        oversold = oversub.economics_section(p, s, period.start, period.end)  # OVERSUB: docs/slices.md
    g_nodes = rr.group_nodes(nodes, by)
    sums = rr.group_sums(found, by, device_p)
    node_opex = _node_opex(nodes, opex, device_p)
    costs = energy(by, period) if energy is not None else None
    groups = [group_doc(k, g_nodes.get(k, []), sums.get(k, rr.Sums()), capex=capex, node_opex=node_opex,
                        energy=None if costs is None else costs.get(k, (ZERO, ZERO, None)), device_p=device_p, v=v,
                        period=period)
              for k in sorted(set(g_nodes) | {k for k in sums if k})]
    return {"by": by, "start": period.start, "end": period.end, "days": _q(period.hours / 24, "0.0001"),
            "currency": p.settings.currency, "as_of": p.clock.now(), "settings": settings_doc(v),
            "energy_source": "capacity_report" if costs is not None else "none",
            "groups": groups, "oversubscription": oversold}


def energy_seam(p: Platform, actor: Principal) -> EnergyCost:
    """The power cost, the sampled seconds and the lease rate per group over the period from the capacity report
    (:mod:`suanli.service.capacity`: power measured or modelled from TDP × PUE × the site's power
    price); None when nothing was sampled."""

    def cost(by: str, period: rr.Period) -> Mapping[str, Energy] | None:
        r = capacity.report(p, actor, period.start, period.end, by=by, step="day")
        out = {g.key: (g.figures.power_cost, g.figures.observed_seconds, g.figures.lease_rate) for g in r.groups
               if g.figures.observed_seconds > 0}
        return out or None

    return cost

"""Oversubscription use cases (docs/slices.md "Oversubscription"; the rules are in
:mod:`suanli.domain.oversub`).

- :func:`set_factor` (operator only): a new factor row for a (site, model): the factor, the burstable
  discount and whether burstable slices are offered there; history is kept and a change applies to
  new grants only (a burstable lease keeps the terms of its first grant).
- :func:`list_factors` (operator): the factors in force, their history, the burstable pool now (sold
  vs physical compute per (site, model)) and the measured contention per pool device.
- :func:`offers` (everyone): where burstable slices are sold and how much lower they are priced.
- placement hooks: :func:`pool_state` (the burstable pool and the factors, read with a snapshot),
  :func:`record_grant` (the burstable terms, in the transaction of the grant).
- :func:`sample_contention`: the background pass counts each fresh telemetry sample of a pool
  device once; a sample at or above :data:`~suanli.domain.oversub.SATURATED_PCT` % busy is saturated.
- :func:`economics_section`: the factors in force and the extra revenue of the period (at list price).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain import oversub as dom
from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.oversub import BurstableTerms, Factor
from suanli.domain.quotes import Basis
from suanli.errors import ValidationError
from suanli.ledger.quotes import Quote
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import agent_readings
from suanli.store import fleet as fleet_store
from suanli.store import oversub as store

MILLI = 1000


def _known(p: Platform, s: Session, site: str, model: str) -> tuple[str, str]:
    sites = [x.name for x in fleet_store.list_sites(s)]
    if site not in sites:
        raise ValidationError(f"unknown site {site!r}; sites: {', '.join(sites) or 'none'}", field="site")
    cat = p.catalog(s)
    if model not in cat:
        raise ValidationError(f"unknown model {model!r}; known: {', '.join(cat.names())}", field="model")
    return site, cat.get(model).name


def set_factor(p: Platform, actor: Principal, raw: Mapping[str, Any]) -> Factor:
    """A new factor row (validated whole first: nothing is written on a 422)."""
    authorize(actor, Action.SET_OVERSUB)
    site, model = raw.get("site"), raw.get("model")
    if not isinstance(site, str) or not site:
        raise ValidationError("site is required: the site whose devices are oversold", field="site")
    if not isinstance(model, str) or not model:
        raise ValidationError("model is required: the accelerator model oversold", field="model")
    factor = dom.parse_factor(raw.get("factor"))
    discount = dom.parse_discount(raw.get("discount_pct"))
    offered = raw.get("offered", True)
    if not isinstance(offered, bool):
        raise ValidationError(f"offered must be true or false, got {offered!r}", field="offered")
    with p.tx() as s:
        site, model = _known(p, s, site, model)
        return store.add_factor(s, site=site, model=model, factor=factor, discount_pct=discount, offered=offered,
                                set_by=actor.name, at=p.clock.now())


def in_force(factors: list[Factor], at: datetime) -> list[Factor]:
    """The row in force for each (site, model) at ``at``."""
    keys = sorted({(f.site, f.model) for f in factors})
    out = [dom.in_force(factors, site, model, at) for site, model in keys]
    return [f for f in out if f is not None]


def factor_doc(f: Factor) -> dict[str, Any]:
    return {"id": f.id, "site": f.site, "model": f.model, "factor": f.factor, "discount_pct": f.discount_pct,
            "offered": f.offered, "set_by": f.set_by, "set_at": f.set_at}


def list_factors(p: Platform, actor: Principal) -> dict[str, Any]:
    authorize(actor, Action.READ_OVERSUB)
    now = p.clock.now()
    with p.read() as s:
        factors = store.all_factors(s)
        holds = store.pool_holds(s, now)
        counts = store.contention(s, {h.device_id for h in holds})
    pools: dict[tuple[str, str], dict[str, Any]] = {}
    for h in holds:
        g = pools.setdefault((h.site, h.model), {"site": h.site, "model": h.model, "devices": set(),
                                                 "slices": 0, "charged_milli": 0, "sold_compute_milli": 0})
        g["devices"].add(h.device_id)
        g["slices"] += 1
        g["charged_milli"] += h.charge_milli
        g["sold_compute_milli"] += h.compute_milli
    pool_docs = []
    for g in pools.values():
        n = len(g.pop("devices"))
        g["pool_devices"] = n
        g["oversold"] = (Decimal(g["sold_compute_milli"]) / (n * MILLI)).quantize(Decimal("0.01"))
        pool_docs.append(g)
    by_device: dict[int, list[store.PoolHold]] = defaultdict(list)
    for h in holds:
        by_device[h.device_id].append(h)
    devices = []
    for dev, hs in sorted(by_device.items(), key=lambda kv: (kv[1][0].node, kv[1][0].slot)):
        c = counts.get(dev)
        devices.append({"node": hs[0].node, "slot": hs[0].slot, "model": hs[0].model, "site": hs[0].site,
                        "slices": len(hs), "charged_milli": sum(h.charge_milli for h in hs),
                        "sold_compute_milli": sum(h.compute_milli for h in hs),
                        "samples": c.samples if c else 0, "saturated": c.saturated if c else 0,
                        "contention": None if c is None else dom.contention_share(c.samples, c.saturated)})
    return {"as_of": now, "max_factor": dom.MAX_FACTOR, "max_discount_pct": dom.MAX_DISCOUNT_PCT,
            "saturated_pct": dom.SATURATED_PCT,
            "in_force": [factor_doc(f) for f in in_force(factors, now)],
            "history": [factor_doc(f) for f in reversed(factors)],
            "pools": sorted(pool_docs, key=lambda g: (g["site"], g["model"])), "devices": devices}


def offers(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    """Where burstable slices are sold now and at what discount (the factor is the operator's business)."""
    authorize(actor, Action.READ_OFFERS)
    now = p.clock.now()
    with p.read() as s:
        factors = store.all_factors(s)
    return [{"site": f.site, "model": f.model, "discount_pct": f.discount_pct,
             "note": dom.burstable_note(f.discount_pct)} for f in in_force(factors, now) if f.offered]


# ----------------------------------------------------------------------------------- placement hooks
def pool_state(s: Session, start: datetime, end: datetime | None) -> tuple[set[int], list[Factor]]:
    """The burstable pool over [start, end) (device ids) and every factor row (for :func:`offered_at`).
    No factor ever set: no burstable lease can exist, and the pool is not read."""
    factors = store.all_factors(s)
    return (store.pool_devices(s, start, end) if factors else set()), factors


def offered_at(factors: list[Factor], site: str, model: str, at: datetime) -> Factor | None:
    f = dom.in_force(factors, site, model, at)
    return f if f is not None and f.offered else None


def record_grant(s: Session, lease_id: str, terms: BurstableTerms | None) -> None:
    """In the grant's transaction: a burstable lease's terms (a re-placement keeps the first ones)."""
    if terms is not None and store.lease_terms(s, lease_id) is None:
        store.record_lease(s, lease_id, terms)


def mark_quote(quote: Quote, discount_pct: Decimal | None) -> Quote:
    """A burstable lease's quote: its list-price lines are ``burstable`` (the device count is the billed
    share: sold share less the discount), with the note that says so."""
    if discount_pct is None:
        return quote
    lines = tuple(dataclasses.replace(ln, basis=Basis.BURSTABLE) if ln.basis is Basis.LIST else ln
                  for ln in quote.lines)
    note = "; ".join(x for x in (dom.burstable_note(discount_pct), quote.note) if x)
    return dataclasses.replace(quote, lines=lines, note=note)


# ----------------------------------------------------------------------------------- telemetry
def sample_contention(p: Platform) -> int:
    """Count the agents' fresh samples of burstable-pool devices (each once). Returns how many were counted."""
    now = p.clock.now()
    counted = 0
    with p.tx() as s:
        holds = store.pool_holds(s, now)
        if not holds:
            return 0
        pool = {(h.node, h.slot): h.device_id for h in holds}
        since = now - timedelta(seconds=p.settings.agent_down_s)
        for node, t in agent_readings.fresh_telemetry(s, since):
            dev = pool.get((node, t.index))
            if dev is None or t.utilisation_pct is None:
                continue
            counted += store.count_sample(s, dev, t.at, t.utilisation_pct >= dom.SATURATED_PCT)
    return counted


# ----------------------------------------------------------------------------------- economics
def economics_section(p: Platform, s: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """The factors in force at ``end`` and, over [start, end), what burstable slices brought at list
    price: ``burstable_revenue`` (billed shares) and ``extra_revenue`` (less what the device capacity
    they took would have brought sold guaranteed: capacity charge ÷ 1000 × the list rate)."""
    factors = store.all_factors(s)
    book = price_book(p, s)
    revenue = extra = Decimal(0)
    for a in store.burstable_spans(s, start, end):
        lo, hi = max(a.start, start), min(a.end or end, end)
        if hi <= lo:
            continue
        rate = book.rate_at(a.model, a.site, lo) or Decimal(0)
        hours = Decimal(int((hi - lo).total_seconds())) / 3600
        billed = dom.billed_share(a.sold_milli, a.discount_pct)
        revenue += billed * rate * hours
        extra += (billed - Decimal(a.charge_milli) / MILLI) * rate * hours
    cent = Decimal("0.01")
    return {"in_force": [factor_doc(f) for f in in_force(factors, end)],
            "burstable_revenue": revenue.quantize(cent), "extra_revenue": extra.quantize(cent)}

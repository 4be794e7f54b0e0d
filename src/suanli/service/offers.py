"""What can be rented now: per (model, site), devices free now and the list price in both units."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.fleet import energy_cost_per_p_hour
from suanli.domain.prices import device_hour_price, p_year_price
from suanli.errors import ValidationError
from suanli.service.placement import snapshot
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store

FREE_HORIZON = timedelta(minutes=1)
"""A device counts as free now if it is free for at least this long from now."""


def offers(p: Platform, actor: Principal, *, model: str | None = None, site: str | None = None,
           min_memory_gib: int = 0) -> list[dict[str, Any]]:
    authorize(actor, Action.READ_OFFERS)
    if min_memory_gib < 0:
        raise ValidationError("min_memory_gib must be >= 0", field="min_memory_gib")
    now = p.clock.now()
    with p.tx() as s:
        cat = p.catalog(s)
        wanted_model = cat.get(model).name if model else None
        sites = {x.name: x for x in fleet_store.list_sites(s)}
        if site is not None and site not in sites:
            raise ValidationError(f"unknown site {site!r}; sites: {', '.join(sorted(sites))}", field="site")
        snap = snapshot(p, s, now, now + FREE_HORIZON)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    st = snap.state
    for (node, slot), dev in snap.slot_device.items():
        m = cat.get(dev.model)
        if (wanted_model and m.name != wanted_model) or (site and dev.site != site) or m.memory_gib < min_memory_gib:
            continue
        g = groups.setdefault((m.name, dev.site), {"devices": 0, "free": 0, "free_milli": 0, "nodes": set()})
        g["devices"] += 1
        free = int(st.dev_free_milli[node, slot])
        g["free"] += free == 1000
        g["free_milli"] += free
        g["nodes"].add(dev.node)
    out = []
    for (name, site_name), g in sorted(groups.items()):
        m = cat.get(name)
        site_obj = sites[site_name]
        entry = snap.book.entry_at(name, site_name, now)
        out.append({
            "model": name, "vendor": m.vendor.value, "memory_gib": m.memory_gib, "p_per_device": m.p,
            "site": site_name, "region": site_obj.region, "tier": site_obj.tier.value,
            "devices": g["devices"], "free_devices": g["free"], "free_device_equiv": Decimal(g["free_milli"]) / 1000,
            "nodes": len(g["nodes"]),
            "price_device_hour": None if entry is None else device_hour_price(entry.amount, entry.unit, m),
            "price_p_year": None if entry is None else p_year_price(entry.amount, entry.unit, m),
            "currency": p.settings.currency,
            "energy_cost_per_p_hour": energy_cost_per_p_hour(m, site_obj),
            "rtt_ms": rtt.rtt_ms if (rtt := snap.site_rtt.get(site_name)) is not None else None,
        })
    return out


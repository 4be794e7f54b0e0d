"""Stored price plans as :class:`suanli.ledger.plans.PricePlan` (one conversion, used by every
service that prices: billing, quotes, health, vouchers). Kept apart from :mod:`suanli.service.plans`
(creating plans, which places reservations through the lease service) so that the lease service
can price without importing it."""

from __future__ import annotations

from decimal import Decimal

from suanli.ledger.meters import Meter
from suanli.ledger.plans import PlanKind, PricePlan, Rate, Term, Tier
from suanli.store.money_tables import PricePlanRow


def plan_from_row(r: PricePlanRow) -> PricePlan:
    sp = r.spec
    return PricePlan(
        id=r.id, tenant=r.tenant, kind=PlanKind(r.kind), effective_from=r.effective_from, effective_to=r.effective_to,
        order=r.order_id, rates=tuple(Rate(Meter(x["meter"]), Decimal(x["price"]), x.get("model"), x.get("unit", ""),
                                           tuple(Tier(None if t["up_to"] is None else Decimal(t["up_to"]),
                                                      Decimal(t["price"])) for t in x.get("tiers", [])))
                                      for x in sp.get("rates", [])),
        discount=Decimal(sp.get("discount", "0")), term=Term(sp["term"]) if sp.get("term") else None,
        term_model=sp.get("term_model", ""), term_devices=Decimal(sp.get("term_devices", "0")),
        commit_meter=Meter(sp["commit_meter"]) if sp.get("commit_meter") else None,
        commit_model=sp.get("commit_model", ""), commit_quantity=Decimal(sp.get("commit_quantity", "0")),
        commit_price=Decimal(sp.get("commit_price", "0")), commit_devices=Decimal(sp.get("commit_devices", "0")),
        reservation=sp.get("reservation") or "", paid=r.paid, name=r.name, training=bool(sp.get("training", False)))

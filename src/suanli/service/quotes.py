"""Price quotes of leases: made at the grant (and for an extension's added time), shown with the
order and the lease, and loaded by billing for the leases bound by them.

The rules are in :mod:`suanli.ledger.quotes` (what a quote is, which leases it binds, how an
extension is quoted); docs/billing.md, "Price quotes", has the worked rules. Suppliers never see a
tenant's quote (they see their shares on statements).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import Lease, ProductForm, parse_order
from suanli.domain.prices import PriceBook
from suanli.errors import CapacityError
from suanli.ledger.plans import DEFAULT_TENANT, PricePlan
from suanli.ledger.quotes import (
    Pricing,
    Quote,
    QuotedRate,
    RateSegments,
    Unquotable,
    binds,
    build_quote,
    holdings,
    lease_rates,
    quote_rate,
)
from suanli.service import defrag, oversub, shapes, shapes_billing
from suanli.service.flops_mix import tenant_prices
from suanli.service.placement import Rejection, check_order, plan, snapshot
from suanli.service.plan_rows import plan_from_row
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import billing as billing_store
from suanli.store import leases as lease_store
from suanli.store import quotes as store

UNQUOTED_NOTE = ("no fixed rate could be quoted at the grant (a plan with tiered device rates, or no list price); "
                 "the lease follows the list price and plan in force")


def _plans(s: Session, tenant_id: str) -> list[PricePlan]:
    return [plan_from_row(r) for r in billing_store.plans_for(s, [tenant_id, DEFAULT_TENANT])]


def tenants_plans(s: Session, tenant_ids: Iterable[str]) -> dict[str, list[PricePlan]]:
    """:func:`_plans` of each tenant (its own plans and the default ones, in the same order), in one query."""
    ids = sorted(set(tenant_ids))
    rows = [(r.tenant, plan_from_row(r)) for r in billing_store.plans_for(s, [*ids, DEFAULT_TENANT])]
    return {t: [plan for owner, plan in rows if owner in (t, DEFAULT_TENANT)] for t in ids}


def _quote_rates(p: Platform, s: Session, tenant_id: str, order_id: str, keys: Iterable[tuple[str, str]],
                 at: datetime, valid_from: datetime, *, plans: list[PricePlan] | None = None,
                 book: PriceBook | None = None, device_p: dict[str, Decimal] | None = None) -> list[QuotedRate] | str:
    """Quote each (model, site) at ``at``; a reason string if one cannot be quoted. ``plans``,
    ``book`` and ``device_p``, when given, were read in this transaction (the placement loop reads
    them once per batch)."""
    plans = _plans(s, tenant_id) if plans is None else plans
    book = price_book(p, s) if book is None else book
    device_p = {m.name: m.p for m in p.catalog(s)} if device_p is None else device_p
    out = []
    for model, site in sorted(set(keys)):
        try:
            out.append(quote_rate(plans, book, tenant_id, order_id, model, site, at, device_p.get(model),
                                  valid_from=valid_from))
        except Unquotable as e:
            return str(e)
    return out


def _rates(p: Platform, s: Session, lease: Lease, at: datetime, valid_from: datetime) -> list[QuotedRate] | str:
    """Quote each (model, site) the lease holds now, at ``at``."""
    return _quote_rates(p, s, lease.tenant_id, lease.order_id, ((a.model, a.site) for a in lease.last_allocations()),
                        at, valid_from)


def grant_rates(p: Platform, s: Session, tenant_id: str, order_id: str, keys: Iterable[tuple[str, str]],
                at: datetime, valid_from: datetime, *, plans: list[PricePlan], book: PriceBook,
                device_p: dict[str, Decimal]) -> list[QuotedRate] | None:
    """The quote stored at the grant (inside its transaction) for a lease holding ``keys`` (model,
    site) from ``valid_from``, granted at ``at``: a fixed-term lease or a reservation is bound by it,
    an open-ended lease that starts now only shows it; ``None``: nothing fixed (the lease follows
    the list price)."""
    rates = _quote_rates(p, s, tenant_id, order_id, keys, at, valid_from, plans=plans, book=book, device_p=device_p)
    return None if isinstance(rates, str) else rates


def record_extension_quote(p: Platform, s: Session, lease_id: str, old_end: datetime, at: datetime) -> None:
    """After an extension (inside its transaction): the added time, from ``old_end``, is quoted at
    ``at`` for a lease bound by its quote. If it cannot be quoted, the lease's last quote goes on."""
    current = store.quotes_for(s, [lease_id], binding_only=True).get(lease_id)
    if current is None:
        return
    lease = lease_store.get_lease(s, lease_id)
    rates = _rates(p, s, lease, at, old_end)
    if isinstance(rates, str):
        return
    store.add_rates(s, lease.id, rates, binding=True, currency=current.currency)


def record_replacement_quote(p: Platform, s: Session, lease_id: str) -> None:
    """After a re-placement (inside its transaction): a lease bound by its quote that now holds a
    (model, site) it was not quoted for gets that one quoted as of its original quote (the plan and
    list price in force then), so a failure never moves it onto a later price."""
    current = store.quotes_for(s, [lease_id], binding_only=True).get(lease_id)
    if current is None:
        return
    lease = lease_store.get_lease(s, lease_id)
    known = {(r.model, r.site) for r in current.rates}
    first = min(current.rates, key=lambda r: r.valid_from)
    new = [(a.model, a.site) for a in lease.last_allocations() if (a.model, a.site) not in known]
    if not new:
        return
    rates = _quote_rates(p, s, lease.tenant_id, lease.order_id, new, first.quoted_at, first.valid_from)
    if not isinstance(rates, str):
        store.add_rates(s, lease.id, rates, binding=True, currency=current.currency)


def quote_of(p: Platform, s: Session, lease: Lease) -> Quote | None:
    """The lease's quote as shown (none for a lease that holds nothing, e.g. rejected)."""
    stored = store.quotes_for(s, [lease.id]).get(lease.id)
    allocs = lease.last_allocations()
    if not allocs and lease.form is ProductForm.CPU:  # SHAPES: a cpu instance holds no device, only host resources
        return shapes_billing.lease_resource_quote(s, shown_quote(p, lease.start, lease.end, lease.created_at, [], {},
                                                                  None), lease)
    if not allocs:
        return None
    quote = shown_quote(p, lease.start, lease.end, lease.created_at,
                        [(a.model, a.site, a.supplier, a.node, a.share, a.drawn_from) for a in allocs],
                        {m.name: m.p for m in p.catalog(s)},
                        None if stored is None else (stored.rates, stored.binding, stored.currency))
    quote = oversub.mark_quote(quote, allocs[0].discount_pct if allocs[0].sold_milli is not None else None)
    return shapes_billing.lease_resource_quote(s, quote, lease)  # SHAPES: host resources beyond the share


def shown_quote(p: Platform, start: datetime, end: datetime | None, created_at: datetime,
                held_rows: Sequence[tuple[str, str, str, str, Decimal, str | None]], device_p: dict[str, Decimal],
                stored: tuple[Sequence[QuotedRate], bool, str] | None) -> Quote:
    """A lease's quote as shown, from what it holds ((model, site, supplier, node, share, drawn_from)
    per allocation) and its stored rates ((rates, binding, currency), or None); the placement loop
    builds it from the rows it has just written, without reading them back."""
    held = holdings([row[:5] for row in held_rows])
    drawn = sorted({row[5] for row in held_rows if row[5]})
    on_term = (f"its devices are drawn on reservation {', '.join(drawn)} of a term plan: the time the term "
               "covers costs 0.00 (its fee pays for it); these rates apply beyond it") if drawn else ""
    if stored is None:
        note = UNQUOTED_NOTE if binds(start, end, created_at) else ""
        return build_quote(Pricing.LIST, (), held, start, end, device_p, p.settings.currency,
                           "; ".join(x for x in (note, on_term) if x))
    rates, binding, currency = stored
    return build_quote(Pricing.QUOTED if binding else Pricing.LIST, rates, held, start, end, device_p, currency,
                       on_term)


def lease_quote(p: Platform, actor: Principal, lease_id: str) -> Quote | None:
    """A lease's quote for its tenant or the operator; ``None`` for a supplier (a tenant's price is
    not the supplier's to see) and for a lease that holds no devices."""
    grant = authorize(actor, Action.READ_LEASES)
    tenant_id, supplier = grant.lease_filter
    if supplier is not None:
        return None
    grant.check_lease(lease_id)
    with p.tx() as s:
        return quote_of(p, s, lease_store.get_lease(s, lease_id, tenant_id=tenant_id))


def quote_order(p: Platform, actor: Principal, raw: dict[str, Any]) -> Quote:
    """A would-be order's quote (``POST /v1/quotes``): placed on the fleet as it is now and priced as
    the grant would price it, with nothing written. A later order may land elsewhere or at another
    price; only the order's own quote binds. An order nothing can hold is a 409 with the reason."""
    authorize(actor, Action.PLACE_ORDER)
    now = p.clock.now()
    spec = parse_order(raw, now=now)
    start = max(spec.start or now, now)
    with p.tx() as s:
        snap = snapshot(p, s, start, spec.end)
        check_order(snap, spec)  # an order that can never fit (or nothing near enough): 422, as the order's
        prices = tenant_prices(_plans(s, actor.tenant_id), snap.book, actor.tenant_id, "", now,
                               {m.name: m.p for m in snap.catalog})  # a flops mix by the tenant's rates
        outcome = plan(p, snap, spec, seed="quote:" + actor.tenant_id, prices=prices)
        if isinstance(outcome, Rejection):
            raise CapacityError(f"no quote: the order cannot be placed now ({outcome.reason.value}: {outcome.message})",
                                reason=outcome.reason.value)
        by_id = {d.id: d for d in snap.devices}
        terms = outcome.burstable  # OVERSUB: billed by the sold share less the discount
        mig = defrag.discount_now(s, spec)  # DEFRAG: a migratable lease's discount (docs/defrag.md)
        held = [(by_id[dev].model, by_id[dev].site, by_id[dev].supplier, by_id[dev].node,
                 defrag.discounted_share(Decimal(milli) / 1000 if terms is None else terms.billed_share, mig))
                for dev, milli, _mem in outcome.grants]
        rates = _quote_rates(p, s, actor.tenant_id, "", ((m, st) for m, st, *_ in held), now, start)
        device_p = {m.name: m.p for m in p.catalog(s)}
        bound = binds(start, spec.end, now)
        discount = None if terms is None else terms.discount_pct
        if isinstance(rates, str):
            quote = oversub.mark_quote(build_quote(Pricing.LIST, (), holdings(held), start, spec.end, device_p,
                                                   p.settings.currency, UNQUOTED_NOTE if bound else ""), discount)
        else:
            quote = oversub.mark_quote(build_quote(Pricing.QUOTED if bound else Pricing.LIST, rates, holdings(held),
                                                   start, spec.end, device_p, p.settings.currency), discount)
        quote = defrag.mark_quote(quote, mig)
        # SHAPES: host resources beyond the devices' share, at the resource prices now
        quote = shapes_billing.with_resource_quote(s, quote, shapes.holds_for(snap, outcome, spec), start, spec.end,
                                                   now)
        return quote if outcome.slice is None else dataclasses.replace(quote, enforcement=outcome.slice.enforcement)


def billing_rates(s: Session, lease_ids: Sequence[str]) -> dict[tuple[str, str, str], RateSegments]:
    """For rating: the quoted rates of the leases bound by their quote, per (lease, model, site)."""
    bound = store.quotes_for(s, lease_ids, binding_only=True)
    return lease_rates([(q.lease, r) for q in bound.values() for r in q.rates])


def period_rates(s: Session, tenant_id: str, start: datetime, end: datetime
                 ) -> dict[tuple[str, str, str], RateSegments]:
    """For rating a period: the quoted rates of the tenant's bound leases that overlap it."""
    return billing_rates(s, store.bound_lease_ids(s, tenant_id, start, end))


def quote_starts(rates: dict[tuple[str, str, str], RateSegments]) -> list[datetime]:
    """Instants at which a lease's quoted rate changes (an extension's added time): rating cuts there."""
    return sorted({frm for segs in rates.values() for frm, _r, _p in segs[1:]})


__all__ = ["Quote", "billing_rates", "lease_quote", "period_rates", "quote_of", "quote_order", "quote_starts",
           "record_extension_quote", "record_replacement_quote"]

"""Custom shapes in billing: the extras' invoice lines and quote lines (docs/billing.md "Resource prices").

- :func:`with_resource_lines`: a tenant's rated period gets the charge lines of the host resources
  its leases held beyond their devices' share (:func:`suanli.ledger.resources.rate_holds`), beside its
  device time: the same lines on the draft, the issued invoice and the suppliers' statements.
- :func:`with_resource_quote`: a quote gets one line per resource and site (basis ``resource``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from suanli.domain.leases import Lease
from suanli.domain.shapes import Hold
from suanli.ledger.quotes import Quote
from suanli.ledger.rating import Rated, RatingInput
from suanli.ledger.resources import ResourceBook, quote_lines, rate_holds
from suanli.store import shapes as store


def with_resource_lines(s: Session, inp: RatingInput, rated: Rated, now: datetime) -> Rated:
    """``rated`` with the tenant's resource lines of the period (to ``now``) appended."""
    spans = store.tenant_extra_holds(s, inp.tenant, inp.period_start, inp.period_end)
    if not spans:
        return rated
    lines = rate_holds(spans, ResourceBook(store.list_resource_prices(s)), inp.period_start, inp.period_end, now,
                       commission_rate=inp.commission_rate, lease_commission=inp.lease_commission,
                       currency=inp.currency)
    return dataclasses.replace(rated, lines=[*rated.lines, *lines])


def with_resource_quote(s: Session, quote: Quote, holds: Sequence[Hold], start: datetime, end: datetime | None,
                        at: datetime) -> Quote:
    """``quote`` with the lines of the extras of ``holds`` at the resource prices in force at ``at``."""
    if not any(h.extra.any for h in holds):
        return quote
    where = {h.node_id: (h.name, h.site) for h in store.node_hosts(s).values()}
    extras = [(where[h.node_id][0], where[h.node_id][1], h.extra) for h in holds if h.extra.any]
    lines = quote_lines(extras, ResourceBook(store.list_resource_prices(s)), start, end, at, quote.currency)
    return dataclasses.replace(quote, lines=(*quote.lines, *lines))


def lease_resource_quote(s: Session, quote: Quote, lease: Lease) -> Quote:
    """A stored lease's quote with its current extras (what it holds now, or held last)."""
    spans = store.holds_of(s, [lease.id])
    if not spans:
        return quote
    last = max((h.end for h in spans if h.end is not None), default=None)
    current = [h for h in spans if h.end is None] or [h for h in spans if h.end == last]
    extras = [(h.node, h.site, h.extra) for h in current if h.extra.any]
    if not extras:
        return quote
    lines = quote_lines(extras, ResourceBook(store.list_resource_prices(s)), lease.start, lease.end,
                        lease.created_at, quote.currency)
    return dataclasses.replace(quote, lines=(*quote.lines, *lines))


__all__ = ["lease_resource_quote", "with_resource_lines", "with_resource_quote"]

"""Price quotes: the rate a lease is charged per device-hour, as rating would charge it at grant.

A quote is made for each (model, site) a lease is granted, at the instant of the grant: the
tenant's plan in force then (:func:`suanli.ledger.plans.plan_at`: its device rate, its commit
price, or its discount) over the list price in force then, exactly as
:func:`suanli.ledger.rating.rate` prices device time that no term or package covers. The rate is
kept to 12 decimal places (what PostgreSQL's ``NUMERIC(38, 12)`` stores) and that stored figure
is the one billed, so the quote shown is the rate charged.

Which leases are **bound** by their quote (:class:`Pricing`):

- ``quoted``: a fixed-term lease (an order with an end) or a reservation (a future start). Its
  device time is charged at the quote whatever list prices or plans do later.
- ``list``: an open-ended lease that starts now. Its quote is informative: the lease follows the
  list price and the plan in force at each second, from each change on.

A lease is ``list`` too when a quote cannot fix its rate: a plan with tiered device rates (the rate
depends on the month's volume) or a (model, site) with no list price at the grant.

Extending a fixed-term lease quotes the **added** time at the instant of the extension (the
plan and list price in force then); the original term keeps its quote. So a short lease cannot
be stretched into a long one at an old price. The quote's segments are ordered by
``valid_from``: a rate applies from its ``valid_from`` until the next one (the first from the
start of the lease).

Term total: for each segment and each node holding the lease's devices,
``round_line(device-seconds ÷ 3600 × rate)`` — the one rounding per invoice line, exactly as the
lease's lines will be rated. The invoice of a term inside one calendar month shows that total to
the cent; a term across months is invoiced month by month, each line rounded once, so the sum
of the invoices can differ from the quote by at most 0.01 per line and month boundary.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import SECONDS_PER_HOUR, round_line
from suanli.domain.prices import PriceBook
from suanli.domain.quotes import Basis, Pricing, QuotedRate, binds, q12
from suanli.ledger.meters import Meter
from suanli.ledger.plans import COMMITMENTS, PricePlan, plan_at


class Unquotable(Exception):
    """No fixed rate can be quoted for a (model, site): the lease follows the list price."""


def quote_rate(plans: Sequence[PricePlan], book: PriceBook, tenant: str, order: str, model: str, site: str,
               at: datetime, device_p: Decimal | None, *, valid_from: datetime | None = None) -> QuotedRate:
    """The device-hour rate that rating charges at ``at`` for device time of ``model`` at ``site`` that
    no term or package covers (:func:`suanli.ledger.rating.rate`, step 3). Raises :class:`Unquotable`."""
    plan = plan_at(plans, tenant, order, at)
    listed = book.rate_at(model, site, at)
    listed_q = None if listed is None else q12(listed)
    plan_id = plan.id if plan else ""
    frm = valid_from or at
    if plan is not None and plan.kind in COMMITMENTS and plan.commit_meter is Meter.DEVICE_SECONDS \
            and plan.commit_model in ("", model):
        return QuotedRate(model, site, frm, q12(plan.commit_price), listed_q, plan_id, Basis.COMMIT_PRICE, at)
    if plan is not None:
        rt = plan.rate_for(Meter.DEVICE_SECONDS, model)
        if rt is not None:
            if rt.tiers:
                raise Unquotable(f"plan {plan.id} prices {model} in volume tiers; the lease follows the plan")
            if rt.unit == "p_year" and device_p is None:
                raise Unquotable(f"plan {plan.id} prices {model} per P-year but {model} has no P figure")
            return QuotedRate(model, site, frm, q12(rt.per_price_unit(device_p)), listed_q, plan_id,
                              Basis.PLAN_RATE, at)
    if listed is None:
        raise Unquotable(f"no list price for {model} at site {site or 'any'} on {at.isoformat()}")
    discount = plan.discount if plan else Decimal(0)
    return QuotedRate(model, site, frm, q12(listed * (1 - discount)), listed_q, plan_id, Basis.LIST, at)


RateSegments = tuple[tuple[datetime, Decimal, str], ...]
"""A lease's quoted rates for one (model, site): (valid_from, device-hour rate, plan id), by
``valid_from`` ascending. The plan is the one in force at the quote: the lease's lines carry it (so
a plan change does not split them) and its ``paid`` flag (what a voucher may pay)."""


def rate_at(segments: RateSegments, t: datetime) -> tuple[Decimal, str]:
    """The quoted rate and plan at ``t``: the last segment starting at or before ``t`` (the first before it)."""
    _frm, price, plan = segments[0]
    for frm, rate, p in segments:
        if frm <= t:
            price, plan = rate, p
        else:
            break
    return price, plan


def lease_rates(rates: Sequence[tuple[str, QuotedRate]]) -> dict[tuple[str, str, str], RateSegments]:
    """(lease, rate) pairs of bound leases -> what :class:`suanli.ledger.rating.RatingInput` takes."""
    acc: dict[tuple[str, str, str], list[tuple[datetime, Decimal, str]]] = defaultdict(list)
    for lease, r in rates:
        acc[(lease, r.model, r.site)].append((r.valid_from, r.device_hour, r.plan))
    return {k: tuple(sorted(v)) for k, v in acc.items()}


@dataclass(frozen=True)
class Holding:
    """Devices a lease holds on one node."""

    model: str
    site: str
    supplier: str
    node: str
    share: Decimal
    """The sum of the device shares on the node (1 per whole device)."""


@dataclass(frozen=True)
class QuoteLine:
    model: str
    site: str
    valid_from: datetime
    devices: Decimal
    device_hour: Decimal
    p_year: Decimal | None
    list_device_hour: Decimal | None
    plan: str
    basis: Basis
    hourly: Decimal
    """devices × device_hour (exact; the cost of one hour of the lease at this rate)."""
    term_hours: Decimal | None
    """Hours of the term this rate covers (fixed term only)."""
    term_total: Decimal | None
    """Rounded once per node (as the invoice lines will be) and summed; fixed term only."""


@dataclass(frozen=True)
class Quote:
    pricing: Pricing
    currency: str
    lines: tuple[QuoteLine, ...]
    note: str = ""
    """Why a lease that would be quoted follows the list price (unquotable), else ''."""
    enforcement: str | None = None
    """SLICES: a would-be slice's enforcement (``mig:1g.10gb``, ``mps``…; docs/slices.md), else None."""

    @property
    def hourly(self) -> Decimal:
        """The lease's cost per hour now: the latest rate of each (model, site)."""
        latest: dict[tuple[str, str], QuoteLine] = {}
        for ln in self.lines:
            k = (ln.model, ln.site)
            if k not in latest or ln.valid_from >= latest[k].valid_from:
                latest[k] = ln
        return sum((x.hourly for x in latest.values()), Decimal(0))

    @property
    def term_total(self) -> Decimal | None:
        if not self.lines or any(x.term_total is None for x in self.lines):
            return None
        return sum((x.term_total for x in self.lines if x.term_total is not None), Decimal("0.00"))


def build_quote(pricing: Pricing, rates: Sequence[QuotedRate], holdings: Sequence[Holding], start: datetime,
                end: datetime | None, device_p: Mapping[str, Decimal], currency: str, note: str = "") -> Quote:
    """The quote's figures for a lease holding ``holdings`` over [start, end) (end None: open-ended)."""
    by_key: dict[tuple[str, str], list[QuotedRate]] = defaultdict(list)
    for r in rates:
        by_key[(r.model, r.site)].append(r)
    lines: list[QuoteLine] = []
    for (model, site), segs in sorted(by_key.items()):
        segs.sort(key=lambda r: r.valid_from)
        nodes = [h for h in holdings if (h.model, h.site) == (model, site)]
        devices = sum((h.share for h in nodes), Decimal(0))
        for i, r in enumerate(segs):
            hours = total = None
            if end is not None:
                a = start if i == 0 else max(start, r.valid_from)
                b = end if i + 1 == len(segs) else min(end, segs[i + 1].valid_from)
                secs = Decimal(max(0, int((b - a).total_seconds())))
                hours = secs / SECONDS_PER_HOUR
                total = sum((round_line(h.share * secs / SECONDS_PER_HOUR * r.device_hour, currency)
                             for h in nodes), Decimal("0.00"))
            lines.append(QuoteLine(model, site, r.valid_from, devices, r.device_hour, r.p_year(device_p.get(model)),
                                   r.list_device_hour, r.plan, r.basis, devices * r.device_hour, hours, total))
    return Quote(pricing, currency, tuple(lines), note)


def holdings(allocs: Sequence[tuple[str, str, str, str, Decimal]]) -> list[Holding]:
    """(model, site, supplier, node, share) of each device held -> one :class:`Holding` per node."""
    acc: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for model, site, supplier, node, share in allocs:
        acc[(model, site, supplier, node)] += share
    return [Holding(m, s, sup, n, sh) for (m, s, sup, n), sh in sorted(acc.items())]


__all__ = ["Basis", "Holding", "Pricing", "Quote", "QuoteLine", "QuotedRate", "RateSegments", "Unquotable", "binds",
           "build_quote", "holdings", "lease_rates", "q12", "quote_rate", "rate_at"]

"""The money report over any period: revenue, supplier payouts and commission per site, model,
supplier or node, with the realised price per P-year against the list price.

**Where the lines come from.** A period ``[start, end)`` (end clipped to now) touches whole
months. For each month, the lines of its live (issued or paid) invoices are exact; every tenant
whose invoice for that month is not issued yet contributes the lines of its draft, rated now by
the same code as the invoice (the rating of :func:`suanli.service.billing.preview`, to date for the
open month), all in one read transaction:
those are **provisional** and counted apart (``provisional_revenue``). Nothing is written.

**Attribution.** Each line names the node, model, site and supplier it ran on
(:mod:`suanli.ledger.revenue`); a line with no node (tokens from a gateway, storage, fees, term
fees) is the operator's own revenue and falls in the group ``""`` for ``by=node`` / ``by=supplier``.
A line that straddles the period's start or end counts in proportion to its time inside the
period (exact, no rounding; a line of no duration counts when its instant is inside).

**Prices.** P-years sold = Σ device-hours × the model's P ÷ 8,760 over device-time lines
(meter ``device_seconds``); the **realised price** per P-year is the device-time revenue ÷ P-years
sold; the **list price** per P-year is the same P-years priced at the list price book in force at
each line's start, ÷ P-years sold: both are weighted by what was sold, so they compare.
**Lease rate** (出租率) here is rented ÷ available P-hours over the period from the billed device
time (for one model, rented ÷ available device-hours).

Amounts are rounded once, to the cent (half up), when the report is built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.clock import EARLIEST, parse_instant
from suanli.domain.fleet import Node
from suanli.domain.money import HOURS_PER_YEAR
from suanli.errors import ValidationError
from suanli.ledger.meters import Meter
from suanli.ledger.rating import add_months, month_of
from suanli.ledger.rating import rate as rate_lines
from suanli.service import billing
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import accounts as account_store
from suanli.store import billing as billing_store
from suanli.store import fleet as fleet_store

GROUPS = ("site", "model", "supplier", "node")
MAX_DAYS = 366
"""The longest period a report covers."""
CENT = Decimal("0.01")
ZERO = Decimal(0)


def cents(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def rate6(d: Decimal) -> Decimal:
    return d.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    """Exclusive; never after now."""

    @property
    def hours(self) -> Decimal:
        return Decimal(int((self.end - self.start).total_seconds())) / 3600

    @property
    def years(self) -> Decimal:
        return self.hours / HOURS_PER_YEAR


def parse_period(start: str | None, end: str | None, now: datetime) -> Period:
    """``[start, end)``: ISO dates (midnight UTC) or date-times; default from the first of this
    month to now; end clipped to now; start before end, not in the future, at most 366 days."""
    s = parse_instant(start, "start") or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    e = parse_instant(end, "end") or now
    if s < EARLIEST:
        raise ValidationError(f"start ({s.isoformat()}) must be on or after {EARLIEST.date().isoformat()}", field="start")
    if s >= e:
        raise ValidationError(f"start ({s.isoformat()}) must be before end ({e.isoformat()})", field="start")
    if e - s > timedelta(days=MAX_DAYS):
        raise ValidationError(f"the period is {(e - s).days} days; at most {MAX_DAYS} days are allowed",
                              field="end")
    if s >= now:
        raise ValidationError(f"start ({s.isoformat()}) is in the future; a report covers time up to now",
                              field="start")
    return Period(s, min(e, now))


def check_by(by: str) -> str:
    if by not in GROUPS:
        raise ValidationError(f"by={by!r} not allowed; allowed: {', '.join(GROUPS)}", field="by")
    return by


@dataclass(frozen=True)
class Line:
    """One charge line's part inside the period."""

    site: str
    model: str
    supplier: str
    node: str
    meter: str
    amount: Decimal
    supplier_share: Decimal
    device_hours: Decimal
    list_amount: Decimal
    provisional: bool


@dataclass
class Sums:
    revenue: Decimal = ZERO
    provisional: Decimal = ZERO
    supplier_share: Decimal = ZERO
    device_revenue: Decimal = ZERO
    p_years: Decimal = ZERO
    list_amount: Decimal = ZERO
    device_hours: Decimal = ZERO
    nodes: set[str] = field(default_factory=set)

    def add(self, x: Line, p: Decimal) -> None:
        self.revenue += x.amount
        self.supplier_share += x.supplier_share
        if x.provisional:
            self.provisional += x.amount
        if x.meter == Meter.DEVICE_SECONDS.value and x.device_hours:
            self.device_revenue += x.amount
            self.device_hours += x.device_hours
            self.p_years += x.device_hours * p / HOURS_PER_YEAR
            self.list_amount += x.list_amount


def _share(a: datetime, b: datetime, period: Period) -> Decimal:
    """The fraction of [a, b) inside the period (a line of no duration: 1 if its instant is inside)."""
    if b <= a:
        return Decimal(1) if period.start <= a < period.end else ZERO
    lo, hi = max(a, period.start), min(b, period.end)
    if hi <= lo:
        return ZERO
    return Decimal(int((hi - lo).total_seconds())) / Decimal(int((b - a).total_seconds()))


def lines(p: Platform, actor: Principal, period: Period) -> list[Line]:
    """Every charge line of the months the period touches, clipped to it (see the module docstring)."""
    authorize(actor, Action.READ_REVENUE_REPORT)
    months: list[str] = []
    t = period.start.replace(day=1, hour=0, minute=0, second=0)
    while t < period.end:
        months.append(month_of(t))
        t = add_months(t, 1)
    raw: list[tuple[Any, bool]] = []
    now = p.clock.now()
    with p.read() as s:
        book = price_book(p, s)
        tenants = [a for a in account_store.list_accounts(s) if a.role is Role.TENANT and a.organisation is None]
        for m in months:
            live = billing_store.list_invoices(s, tenant_id=None, period=m, live=True)
            issued = {r.tenant_id for r in live}
            raw += [(x, False) for x in billing_store.invoice_lines(s, [r.id for r in live])]
            for who in tenants:  # the drafts, rated as the invoice will be (billing.preview's rating)
                if who.account_id in issued:
                    continue
                inp, records = billing._rating(p, s, who, m, now, store_leases=False)
                if records:
                    raw += [(x, True) for x in rate_lines(inp).lines]
    out: list[Line] = []
    for x, provisional in raw:
        f = _share(x.start, x.end, period)
        if not f:
            continue
        hours = x.quantity * f if x.meter == Meter.DEVICE_SECONDS.value and x.model else ZERO
        listed = ZERO
        if hours:
            rate = book.rate_at(x.model, x.site, x.start) if x.site else None
            listed = hours * rate if rate is not None else ZERO
        out.append(Line(x.site, x.model, x.supplier, x.node, x.meter, x.amount * f, x.supplier_share * f, hours,
                        listed, provisional))
    return out


def key_of(x: Line, by: str) -> str:
    return str(getattr(x, by))


def group_sums(found: Iterable[Line], by: str, device_p: Mapping[str, Decimal]) -> dict[str, Sums]:
    out: dict[str, Sums] = defaultdict(Sums)
    for x in found:
        g = out[key_of(x, by)]
        g.add(x, device_p.get(x.model, ZERO))
        if x.node:
            g.nodes.add(x.node)
    return out


def capacity_p(nodes: Sequence[Node], device_p: Mapping[str, Decimal]) -> Decimal:
    return sum((n.device_count * device_p.get(n.model, ZERO) for n in nodes), ZERO)


def lease_rate(sums: Sums, p_total: Decimal, period: Period) -> Decimal | None:
    """Rented ÷ available P-hours over the period (None without compute)."""
    if p_total <= 0 or period.hours <= 0:
        return None
    return sums.p_years * HOURS_PER_YEAR / (p_total * period.hours)


def group_nodes(nodes: Sequence[Node], by: str) -> dict[str, list[Node]]:
    out: dict[str, list[Node]] = defaultdict(list)
    for n in nodes:
        out[n.name if by == "node" else str(getattr(n, by))].append(n)
    return out


def sums_doc(g: Sums, p_total: Decimal, period: Period) -> dict[str, Any]:
    lr = lease_rate(g, p_total, period)
    return {
        "revenue": cents(g.revenue), "provisional_revenue": cents(g.provisional),
        "supplier_share": cents(g.supplier_share), "commission": cents(g.revenue - g.supplier_share),
        "device_hours": g.device_hours.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
        "p_years_sold": g.p_years.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
        "realised_price_p_year": cents(g.device_revenue / g.p_years) if g.p_years else None,
        "list_price_p_year": cents(g.list_amount / g.p_years) if g.p_years else None,
        "lease_rate": rate6(lr) if lr is not None else None,
    }


def revenue_report(p: Platform, actor: Principal, by: str = "site", start: str | None = None,
                   end: str | None = None) -> dict[str, Any]:
    """Revenue, supplier share, commission, realised and list price per P-year per group."""
    authorize(actor, Action.READ_REVENUE_REPORT)
    by = check_by(by)
    period = parse_period(start, end, p.clock.now())
    found = lines(p, actor, period)
    with p.read() as s:
        device_p = {m.name: m.p for m in p.catalog(s)}
        nodes = fleet_store.list_nodes(s)
    g_nodes = group_nodes(nodes, by)
    sums = group_sums(found, by, device_p)
    keys = sorted(set(sums) | set(g_nodes))
    total = Sums()
    for x in found:
        total.add(x, device_p.get(x.model, ZERO))
    groups = [{"group": k, "nodes": len(g_nodes.get(k, [])),
               **sums_doc(sums.get(k, Sums()), capacity_p(g_nodes.get(k, []), device_p), period)} for k in keys]
    return {"by": by, "start": period.start, "end": period.end, "currency": p.settings.currency,
            "as_of": p.clock.now(), "groups": groups,
            "total": sums_doc(total, capacity_p(nodes, device_p), period),
            "note": "provisional_revenue: drafts of invoices not issued yet (may change until issued)"}

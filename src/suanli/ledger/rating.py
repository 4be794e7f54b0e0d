"""Rating: usage records x price plans x list prices -> charge lines. Deterministic.

For one tenant and one invoice period, records are taken in a fixed order (time, source, id);
each record's quantity (converted to its meter's price unit) is covered, in this order, by

1. a term contract (包月/包年) of the same model, up to ``term_devices`` x seconds of the period;
2. prepaid packages (earliest expiry first);
3. and the rest is charged: at the commit price (包销), else the plan's rate, else the list
   device-hour price in force at the record's time minus the plan's discount (spot, contract),
   else the default plan's rate (tokens, storage, egress, data).

Records are summed into lines by (kind, meter, model, site, supplier, node, lease, plan, package,
unit price); each line is rounded **once** (:func:`suanli.domain.money.round_line`). Graduated
tiers split a line's quantity across the tiers (tiers count per plan, meter and model per period).
Then fixed lines: term fees billed in advance (for the device-seconds their reservations hold,
:mod:`suanli.ledger.terms`), package fees, and the take-or-pay true-up
``max(0, committed - used) x commit price`` when the period is final (committed for the time held). Every line carries the
supplier's share and the operator's commission (:mod:`suanli.ledger.revenue`). Records of a
leased interrupted (spot) at ``stops[lease]`` are never charged from that instant on.

Rating from sums. Only records of the kinds that a term contract or a package draws down
(:func:`drawn_kinds`) depend on the records before them. Any other record's charge depends only on
its own meter, dimensions and the span of time it falls in between two consecutive :func:`cuts`
(the instants at which a plan, a list price, the period or an interruption can change). Records
alike in all of these can be rated as one :class:`UsageSum` (their exact sum, count, first and
last time): the lines are the same, to the digit, as from the records one by one, so the store
sums them where they live and only the drawn-down kinds come one by one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter

from suanli.domain.money import SECONDS_PER_HOUR, round_line
from suanli.domain.prices import PriceBook
from suanli.domain.usage import UsageSum as UsageSum  # re-exported: the store returns it
from suanli.errors import NotFoundError, ValidationError
from suanli.ledger.meters import DEVICE_METERS, INFORMATIONAL, PRICE_UNIT, Meter, UsageRecord
from suanli.ledger.packages import Drawdown, Package
from suanli.ledger.plans import COMMITMENTS, DEFAULT_TENANT, PlanKind, PricePlan, Rate, Term, plan_at
from suanli.ledger.quotes import RateSegments
from suanli.ledger.quotes import rate_at as quoted_rate_at
from suanli.ledger.revenue import split
from suanli.ledger.terms import HeldSpan, fee_for, held_device_seconds
from suanli.ledger.vouchers import priced_by_contract

ZERO = Decimal(0)


def month_of(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


def add_months(t: datetime, k: int) -> datetime:
    m = t.month - 1 + k
    return t.replace(year=t.year + m // 12, month=m % 12 + 1)


@dataclass(frozen=True)
class ChargeLine:
    kind: str
    """``usage``, ``adjustment`` (usage of an earlier, closed period), ``term_covered``,
    ``package_covered``, ``term_fee``, ``package_fee``, ``commit_true_up``, ``unpriced`` (usage no
    rate was in force for: quantity kept, priced 0, the reason in ``description``)."""
    meter: str
    model: str
    site: str
    supplier: str
    lease: str
    plan: str
    package: str
    start: datetime
    end: datetime
    quantity: Decimal
    """In ``price_unit`` (device-hours, million tokens, GB ...)."""
    price_unit: str
    unit_price: Decimal
    amount: Decimal
    supplier_share: Decimal
    commission: Decimal
    records: int
    paid_contract: bool
    usage_period: str
    description: str = ""
    node: str = ""
    """The node the usage ran on (lease time and events that name one); empty for fees and tokens."""


@dataclass
class RatingInput:
    tenant: str
    period_start: datetime
    period_end: datetime
    records: Sequence[UsageRecord]
    plans: Sequence[PricePlan]
    book: PriceBook
    device_p: Mapping[str, Decimal]
    packages: list[Package] = field(default_factory=list)
    floors: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    commission_rate: Decimal = Decimal("0.15")
    lease_commission: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = "CNY"
    stops: Mapping[str, datetime] = field(default_factory=dict)
    final: bool = True
    """The period is over: take-or-pay true-ups are due."""
    sums: Sequence[UsageSum] = ()
    """Usage rated from sums, besides ``records``: never of a kind in :func:`drawn_kinds`."""
    lease_rates: Mapping[tuple[str, str, str], RateSegments] = field(default_factory=dict)
    """Quoted device-hour rates of the leases bound by their quote, per (lease, model, site)
    (:mod:`suanli.ledger.quotes`): their device time that no term or package covers is charged at
    the quote in force at its time, not at the plan or list price."""
    held: Mapping[str, Sequence[HeldSpan]] = field(default_factory=dict)
    """Per term or take-or-pay plan: the device spans its reservation holds (:mod:`suanli.ledger.terms`).
    A term's fee is for the device-seconds held, a take-or-pay commits only for the share held; a
    plan not in it is taken as holding its devices throughout."""


def drawn_kinds(tenant: str, plans: Sequence[PricePlan], packages: Sequence[Package]) -> frozenset[tuple[Meter, str]]:
    """The (meter, model) of the records that the tenant's term contracts and packages with quantity
    left draw down one after another, in time order (model ``""``: every model of the meter)."""
    out = {(Meter.DEVICE_SECONDS, p.term_model) for p in plans if p.tenant == tenant and p.kind is PlanKind.TERM}
    out |= {(p.meter, p.model) for p in packages if p.tenant == tenant and p.quantity - p.used > 0}
    return frozenset(out)


def is_drawn(kinds: frozenset[tuple[Meter, str]], meter: Meter, model: str) -> bool:
    return (meter, model) in kinds or (meter, "") in kinds


def cuts(tenant: str, period_start: datetime, period_end: datetime, plans: Sequence[PricePlan], book: PriceBook,
         stops: Mapping[str, datetime], quote_starts: Sequence[datetime] = ()) -> list[datetime]:
    """The instants, in order, at which the rating of a record may change: the period's bounds, the
    tenant's and the default plans' effective dates, every list-price change and every interruption
    that stops billing, and every instant a lease's quoted rate changes (``quote_starts``: an
    extension's added time). A record at a cut belongs to the span that the cut opens."""
    out = {period_start, period_end, *book.instants(), *stops.values(), *quote_starts}
    for p in plans:
        if p.tenant in (tenant, DEFAULT_TENANT):
            out.add(p.effective_from)
            if p.effective_to is not None:
                out.add(p.effective_to)
    return sorted(out)


def summarise(records: Sequence[UsageRecord], at: Sequence[datetime]) -> list[UsageSum]:
    """The records as sums (the reference for what the store computes): grouped by meter,
    dimensions, month, span between the cuts ``at``, and whether the quantity is zero (a record of
    zero is never on a line, nor counted in its records)."""
    acc: dict[tuple[Meter, str, str, str, str, str, str, str, int, bool],
              tuple[Decimal, int, datetime, datetime]] = {}
    for r in records:
        k = (r.meter, r.model, r.site, r.supplier, r.node, r.lease, r.order, month_of(r.time),
             bisect_right(at, r.time), r.quantity == 0)
        g = acc.get(k)
        acc[k] = (r.quantity, 1, r.time, r.time) if g is None else (
            g[0] + r.quantity, g[1] + 1, min(g[2], r.time), max(g[3], r.time))
    return [UsageSum(k[0], k[1], k[2], k[3], k[4], k[5], k[6], q, n, a, b) for k, (q, n, a, b) in acc.items()]


@dataclass
class Rated:
    lines: list[ChargeLine]
    package_draws: dict[str, Decimal]
    dropped: int
    """Records not charged (time after a spot interruption)."""

    @property
    def total(self) -> Decimal:
        return sum((x.amount for x in self.lines), Decimal("0.00"))


_Key = tuple[str, str, str, str, str, str, str, str, str, Decimal | None, bool, str]


def _overlap_seconds(a0: datetime, a1: datetime | None, b0: datetime, b1: datetime) -> Decimal:
    hi = b1 if a1 is None else min(a1, b1)
    lo = max(a0, b0)
    return Decimal(int((hi - lo).total_seconds())) if hi > lo else ZERO


def rate(inp: RatingInput) -> Rated:
    tenant_plans = [p for p in inp.plans if p.tenant == inp.tenant]
    default_plans = [p for p in inp.plans if p.tenant == DEFAULT_TENANT]
    plans_by_id = {p.id: p for p in tenant_plans}
    if inp.sums:
        drawn = drawn_kinds(inp.tenant, inp.plans, inp.packages)
        bad = sorted({(x.meter.value, x.model) for x in inp.sums if is_drawn(drawn, x.meter, x.model)})
        if bad:
            raise ValueError(f"usage of {bad} given as sums, but a term contract or package draws it down "
                             "record by record")
    draw = Drawdown([p for p in inp.packages if p.tenant == inp.tenant])
    term_left: dict[str, Decimal] = {}
    commit_used: dict[str, Decimal] = {}
    """Per commit plan: the quantity charged at the commit price, in the meter's own unit."""
    groups: dict[_Key, list[object]] = {}
    tier_rates: dict[_Key, Rate] = {}
    tier_parts: dict[_Key, dict[tuple[str, str, str, str], tuple[Decimal, int, datetime, datetime]]] = {}
    """Per tiered line key: its usage per (site, supplier, node, lease), so tier lines keep their node."""
    dropped = 0
    price_cache: dict[tuple[str, str, str, str, str], tuple[Decimal, Rate | None]] = {}
    unpriced: dict[tuple[str, str, str, str, str], str] = {}
    """Price keys with no rate in force, and why (the rating error's words)."""
    unpriced_why: dict[_Key, str] = {}

    def add(key: _Key, units: Decimal, n: int, first: datetime, last: datetime) -> None:
        g = groups.get(key)
        if g is None:
            groups[key] = [units, n, first, last]
        else:
            g[0] = g[0] + units  # type: ignore[operator]
            g[1] = g[1] + n  # type: ignore[operator]
            if first < g[2]:  # type: ignore[operator]
                g[2] = first
            if last > g[3]:  # type: ignore[operator]
                g[3] = last

    records = sorted(inp.records, key=attrgetter("time", "source", "id"))
    sums = sorted(inp.sums, key=attrgetter("first", "meter", "model", "site", "supplier", "node", "lease", "order"))
    last_time = max([r.time for r in records[-1:]] + [x.last for x in sums], default=inp.period_end)
    list_rates = _ListRates(inp.book, last_time)
    own_period = month_of(inp.period_start)

    def one(r: UsageRecord | UsageSum, t: datetime, raw: Decimal, n: int, first: datetime, last: datetime) -> None:
        """Rate ``raw`` (meter units) of ``n`` records at ``t`` (the first and last at ``first``, ``last``)."""
        nonlocal dropped
        meter = r.meter
        if meter in INFORMATIONAL:
            return
        stop = inp.stops.get(r.lease) if r.lease else None
        if stop is not None and t >= stop:
            dropped += n
            return
        divisor = PRICE_UNIT[meter][1]
        plan = plan_at(tenant_plans, inp.tenant, r.order, t)
        if inp.period_start <= t < inp.period_end:
            kind, period = "usage", own_period
        else:
            kind, period = "adjustment", month_of(t)
        devp = inp.device_p.get(r.model)
        plan_id = plan.id if plan else ""
        paid = bool(plan and plan.paid)
        if plan is not None and plan.training and meter in DEVICE_METERS:  # shown at 0: its tokens are billed
            add((kind, meter, r.model, r.site, r.supplier, r.node, r.lease, plan_id, "", ZERO, paid, period), raw, n,
                first, last)
            return
        if plan is not None and plan.kind is PlanKind.TERM and plan.bills_capacity and meter is Meter.DEVICE_SECONDS \
                and r.model == plan.term_model:
            if plan.id not in term_left:
                secs = _overlap_seconds(plan.effective_from, plan.effective_to, inp.period_start, inp.period_end)
                term_left[plan.id] = plan.term_devices * secs
            c = min(raw, term_left[plan.id])
            if c > 0:
                term_left[plan.id] -= c
                add(("term_covered", meter, r.model, r.site, r.supplier, r.node, r.lease, plan_id, "", ZERO, paid,
                     period), c, n, first, last)
                raw -= c
        if raw > 0 and draw.packages:
            for pkg, c in draw.draw(meter, r.model, t, raw / divisor, devp, r.site):
                c_raw = raw if c * divisor >= raw else c * divisor
                add(("package_covered", meter, r.model, r.site, r.supplier, r.node, r.lease, plan_id, pkg, ZERO, paid,
                     period), c_raw, n, first, last)
                raw -= c_raw
        if raw <= 0:
            return
        quoted = inp.lease_rates.get((r.lease, r.model, r.site)) if r.lease and meter is Meter.DEVICE_SECONDS \
            else None
        if quoted:  # a fixed-term lease or a reservation: its quote; a commitment in force still counts it
            if plan is not None and plan.kind in COMMITMENTS and plan.commit_meter is meter \
                    and plan.commit_model in ("", r.model):
                commit_used[plan.id] = commit_used.get(plan.id, ZERO) + raw
            price, q_plan = quoted_rate_at(quoted, t)  # the line carries the plan the quote was made under
            add((kind, meter, r.model, r.site, r.supplier, r.node, r.lease, q_plan, "", price,
                 bool(q_plan and plans_by_id[q_plan].paid) if q_plan in plans_by_id else False, period),
                raw, n, first, last)
            return
        if plan is not None and plan.kind in COMMITMENTS and plan.commit_meter is meter \
                and plan.commit_model in ("", r.model):
            commit_used[plan.id] = commit_used.get(plan.id, ZERO) + raw
            add((kind, meter, r.model, r.site, r.supplier, r.node, r.lease, plan_id, "", plan.commit_price, paid,
                 period), raw, n, first, last)
            return
        # the price in force: the list-price segment (device time) or the default plans covering t (the rest)
        ck = (plan_id, meter.value, r.model, r.site, list_rates.key(r.model, r.site, t) if meter is Meter.DEVICE_SECONDS
              else ",".join(d.id for d in default_plans if d.covers(t)))
        cached = price_cache.get(ck)
        if cached is None and ck not in unpriced:
            try:
                cached = _price(inp, plan, default_plans, meter, r.model, r.site, t, devp)
                price_cache[ck] = cached
            except NotFoundError as e:
                unpriced[ck] = e.message
        if cached is None:  # no rate in force: a visible zero line, never an unreadable invoice
            key_u: _Key = ("unpriced", meter, r.model, r.site, r.supplier, r.node, r.lease, plan_id, "", ZERO, paid,
                           period)
            unpriced_why[key_u] = unpriced[ck]
            add(key_u, raw, n, first, last)
            return
        price, tiered = cached
        paid = priced_by_contract(plan, meter, r.model)  # never the default plan's list prices beside it
        if tiered is not None:
            # tiers count per plan, meter and model: a per-model rate's tiers (a model's token price) count
            # that model's usage only; a rate for every model of a non-device meter counts them together
            per_model = meter in DEVICE_METERS or tiered.model is not None
            key: _Key = (kind, meter, r.model if per_model else "", "", "", "", "", plan_id or "default",
                         "", None, paid, period)
            tier_rates[key] = tiered
            add(key, raw, n, first, last)
            pk = (r.site, r.supplier, r.node, r.lease)
            part = tier_parts.setdefault(key, {}).get(pk)
            tier_parts[key][pk] = (raw, n, first, last) if part is None else (
                part[0] + raw, part[1] + n, min(part[2], first), max(part[3], last))
        else:
            add((kind, meter, r.model, r.site, r.supplier, r.node, r.lease, plan_id, "", price, paid, period), raw, n,
                first, last)

    for r in records:
        one(r, r.time, r.quantity, 1, r.time, r.time)
    for x in sums:  # every record of a sum rates as it would at the sum's first time (not drawn, within cuts)
        one(x, x.first, x.quantity, x.records, x.first, x.last)

    lines: list[ChargeLine] = []
    for key in sorted(groups, key=_sort_key):
        raw_o, count_o, first_o, last_o = groups[key]
        assert isinstance(raw_o, Decimal) and isinstance(count_o, int)
        assert isinstance(first_o, datetime) and isinstance(last_o, datetime)
        kind, meter_s, model, site, supplier, node, lease, plan_id, pkg, unit_price, paid, period = key
        meter = Meter(meter_s)
        units_o = raw_o / PRICE_UNIT[meter][1]
        if unit_price is None:
            lines.extend(_tier_lines(inp, key, tier_rates[key], tier_parts[key]))
            continue
        amount = round_line(units_o * unit_price, inp.currency)
        floor = inp.floors.get((supplier, model)) if meter is Meter.DEVICE_SECONDS and supplier else None
        if kind == "unpriced":
            share, commission = Decimal("0.00"), Decimal("0.00")
        elif kind in ("term_covered", "package_covered"):
            share = round_line(floor * units_o, inp.currency) if floor is not None else ZERO
            commission = -share
        elif supplier:  # usage on a node: its owner's share (revenue.py); no node, no supplier: the operator's
            rate_c = inp.lease_commission.get(lease, inp.commission_rate)
            share, commission = split(amount, rate_c, floor, units_o, inp.currency)
        else:
            share, commission = Decimal("0.00"), amount
        why = f"unpriced (billed at 0 until the operator sets a rate; a draft re-rates): {unpriced_why[key]}" \
            if kind == "unpriced" else ""
        lines.append(ChargeLine(kind, meter_s, model, site, supplier, lease, plan_id, pkg, first_o, last_o, units_o,
                                PRICE_UNIT[meter][0], unit_price, amount, share, commission, count_o, paid, period,
                                description=why, node=node))
    lines.extend(_term_fees(inp, tenant_plans))
    lines.extend(_package_fees(inp))
    if inp.final:
        lines.extend(_true_ups(inp, tenant_plans, commit_used))
    return Rated(lines, {k: v for k, v in draw.drawn.items() if v}, dropped)


def _sort_key(k: _Key) -> tuple[str, ...]:
    return tuple("" if x is None else str(x) for x in k)


class _ListRates:
    """Which list-price segment a time falls in, per (model, site), for records in time order:
    the segments are cut once (:meth:`PriceBook.segments`) from the first record's time on."""

    def __init__(self, book: PriceBook, last: datetime) -> None:
        self.book = book
        self.last = last + timedelta(seconds=1)
        self.cuts: dict[tuple[str, str], list[datetime] | None] = {}

    def key(self, model: str, site: str, at: datetime) -> str:
        k = (model, site)
        if k not in self.cuts:
            try:
                self.cuts[k] = [seg.start for seg in self.book.segments(model, site, at, max(self.last, at))]
            except NotFoundError:
                self.cuts[k] = None  # priced (or refused) record by record
        cuts = self.cuts[k]
        if cuts is None or at < cuts[0]:
            e = self.book.entry_at(model, site, at)
            return "" if e is None else e.effective_from.isoformat()
        return str(bisect_right(cuts, at))


def _price(inp: RatingInput, plan: PricePlan | None, defaults: Sequence[PricePlan], meter: Meter, model: str,
           site: str, at: datetime, devp: Decimal | None) -> tuple[Decimal, Rate | None]:
    if plan is not None:
        rt = plan.rate_for(meter, model)
        if rt is not None:
            return rt.per_price_unit(devp), (rt if rt.tiers else None)
    if meter is Meter.DEVICE_SECONDS:
        listed = inp.book.rate_at(model, site, at)
        if listed is None:
            raise NotFoundError(f"no price for {model} at site {site or 'any'} on {at.isoformat()}; set one "
                                "with `suanli price set`", model=model, site=site)
        return listed * (1 - (plan.discount if plan else ZERO)), None
    for d in defaults:
        if d.covers(at):
            rt = d.rate_for(meter, model)
            if rt is not None:
                return rt.per_price_unit(devp), (rt if rt.tiers else None)
    raise NotFoundError(f"no price for meter {meter.value} on {at.isoformat()}: neither the tenant's plan nor "
                        "the default plan (tenant '*') has a rate for it", meter=meter.value)


def _tier_lines(inp: RatingInput, key: _Key, rt: Rate,
                parts: Mapping[tuple[str, str, str, str], tuple[Decimal, int, datetime, datetime]]) -> list[ChargeLine]:
    """Graduated tiers over the key's whole quantity, filled by its parts (site, supplier, node,
    lease) in the order of their first usage: each part keeps its node and supplier on its tier
    lines (a line never mixes nodes), and a part with a supplier splits like any supplier line."""
    kind, meter_s, model, _site, _sup, _node, _lease, plan_id, _pkg, _p, paid, period = key
    meter = Meter(meter_s)
    divisor = PRICE_UNIT[meter][1]
    queue = sorted(((v[2], k, v) for k, v in parts.items()), key=lambda x: (x[0], x[1]))
    out: list[tuple[int, ChargeLine]] = []
    lower = ZERO
    tier_no = 0
    room: Decimal | None = None
    for _first, (site, supplier, node, lease), (raw, count, first, last) in queue:
        left = raw / divisor
        while left > 0 and tier_no < len(rt.tiers):
            tier = rt.tiers[tier_no]
            if room is None:
                room = None if tier.up_to is None else tier.up_to - lower
            if room is not None and room <= 0:
                lower, tier_no, room = tier.up_to or lower, tier_no + 1, None
                continue
            take = left if room is None else min(left, room)
            amount = round_line(take * tier.price, inp.currency)
            if supplier:
                floor = inp.floors.get((supplier, model)) if meter is Meter.DEVICE_SECONDS else None
                share, commission = split(amount, inp.lease_commission.get(lease, inp.commission_rate), floor, take,
                                          inp.currency)
            else:
                share, commission = Decimal("0.00"), amount
            out.append((tier_no, ChargeLine(kind, meter_s, model, site, supplier, lease, plan_id, "", first, last,
                                            take, PRICE_UNIT[meter][0], tier.price, amount, share, commission, count,
                                            paid, period, description=f"tier {tier_no + 1}", node=node)))
            left -= take
            if room is not None:
                room -= take
    return [x for _n, x in sorted(out, key=lambda y: (y[0], y[1].start, y[1].node, y[1].supplier, y[1].site,
                                                     y[1].lease))]


def _term_fees(inp: RatingInput, plans: Sequence[PricePlan]) -> list[ChargeLine]:
    out = []
    for plan in plans:
        if plan.kind is not PlanKind.TERM or not plan.bills_capacity:  # no reservation: no fee, nothing covered
            continue
        step = 1 if plan.term is Term.MONTH else 12
        k = 0
        while True:
            a = add_months(plan.effective_from, k * step)
            if (plan.effective_to is not None and a >= plan.effective_to) or a >= inp.period_end:
                break
            b = add_months(plan.effective_from, (k + 1) * step)
            if plan.effective_to is not None:
                b = min(b, plan.effective_to)
            k += 1
            if a < inp.period_start:
                continue
            devp = inp.device_p.get(plan.term_model)
            rt = plan.rate_for(Meter.DEVICE_SECONDS, plan.term_model)
            if rt is not None:
                hourly = rt.per_price_unit(devp)
            else:
                listed = inp.book.rate_at(plan.term_model, "", a)
                if listed is None:
                    raise NotFoundError(f"no list price for {plan.term_model} at {a.isoformat()} to price term plan "
                                        f"{plan.id}", model=plan.term_model)
                hourly = listed * (1 - plan.discount)
            spans = inp.held.get(plan.id)  # the device-seconds its reservation holds: what the fee pays for
            held = plan.term_devices * int((b - a).total_seconds()) if spans is None \
                else held_device_seconds(spans, a, b)
            if held <= 0:
                continue
            qty = held / SECONDS_PER_HOUR
            amount = fee_for(held, hourly, inp.currency)
            out.append(ChargeLine("term_fee", Meter.DEVICE_SECONDS.value, plan.term_model, "", "", "", plan.id, "",
                                  a, b, qty, "device-hour", hourly, amount, Decimal("0.00"), amount, 0, plan.paid,
                                  month_of(a), description=f"{plan.term.value if plan.term else ''} term in advance: "
                                                           f"{plan.term_devices:f} x {plan.term_model} held by "
                                                           f"reservation {plan.reservation}"))
    return out


def _package_fees(inp: RatingInput) -> list[ChargeLine]:
    out = []
    for p in sorted(inp.packages, key=lambda x: (x.starts_at, x.id)):
        if p.tenant == inp.tenant and p.price > 0 and inp.period_start <= p.starts_at < inp.period_end:
            amount = round_line(p.price, inp.currency)
            out.append(ChargeLine("package_fee", p.meter.value, p.model, "", "", "", "", p.id, p.starts_at,
                                  p.expires_at, p.quantity, p.unit, amount, amount, Decimal("0.00"), amount, 0,
                                  False, month_of(p.starts_at), description="prepaid package"))
    return out


_COMMITMENT_NAME = {PlanKind.COMMIT: "take-or-pay", PlanKind.SPEND_COMMITMENT: "spend commitment (holds no capacity)"}


def _true_ups(inp: RatingInput, plans: Sequence[PricePlan], used_raw: Mapping[str, Decimal]) -> list[ChargeLine]:
    """``used_raw``: per plan, the quantity charged at the commit price in the meter's own unit
    (summed exactly, divided once here)."""
    out = []
    period_secs = Decimal(int((inp.period_end - inp.period_start).total_seconds()))
    for plan in plans:
        if plan.kind not in COMMITMENTS or plan.commit_meter is None or not plan.bills_capacity:
            continue
        secs = _overlap_seconds(plan.effective_from, plan.effective_to, inp.period_start, inp.period_end)
        if secs <= 0:
            continue
        spans = inp.held.get(plan.id) if plan.kind is PlanKind.COMMIT else None
        if spans is not None:  # a take-or-pay commits only for the time its reservation held the devices
            lo, hi = max(plan.effective_from, inp.period_start), inp.period_end if plan.effective_to is None \
                else min(plan.effective_to, inp.period_end)
            secs = held_device_seconds(spans, lo, hi) / plan.commit_devices  # = secs when held throughout
        committed = plan.commit_quantity * secs / period_secs
        used = used_raw[plan.id] / PRICE_UNIT[plan.commit_meter][1] if plan.id in used_raw else ZERO
        shortfall = committed - used
        if shortfall > 0:
            amount = round_line(shortfall * plan.commit_price, inp.currency)
            out.append(ChargeLine("commit_true_up", plan.commit_meter.value, plan.commit_model, "", "", "", plan.id,
                                  "", inp.period_start, inp.period_end, shortfall,
                                  PRICE_UNIT[plan.commit_meter][0], plan.commit_price, amount, Decimal("0.00"), amount,
                                  0, plan.paid, month_of(inp.period_start),
                                  description=f"{_COMMITMENT_NAME[plan.kind]} shortfall: committed {committed:f}, "
                                              f"used {used:f}"))
    return out


def period_bounds(period: str) -> tuple[datetime, datetime]:
    try:
        y, m = (int(x) for x in period.split("-"))
        if not 2000 <= y <= 2099:
            raise ValueError(y)
        start = datetime(y, m, 1, tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"period {period!r} must be YYYY-MM from 2000-01 to 2099-12, e.g. 2026-11",
                              field="period") from None
    return start, add_months(start, 1)

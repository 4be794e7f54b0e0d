"""The operator's overview (the console's start page, ``GET /v1/reports/overview``, ``suanli report overview``).

One read transaction; nothing is written (reads never write). The figures, each with the figure it
is compared with (see :class:`suanli.domain.overview.Overview`):

- **allocation**: device-equivalents held at the instant ÷ devices on available nodes, now and 24 h
  earlier, from the allocation rows (granted time: exact for any past instant). Node states are
  today's (the history of node states is the capacity series' business).
- **lease rate**: rented device-hours ÷ available device-hours over the last 24 h (and the 24 h
  before), rented = held by a lease, whatever its use.
- **revenue month to date** and the **commission** (revenue − supplier share): the money report
  (:func:`suanli.service.revenue_report.revenue_report`: issued invoices' lines, and the drafts of
  the months not issued yet, rated to date by the invoice's own code) over ``[1st of the month, now)``,
  compared with last month from its first instant over the same length of time.
- **run-rate**: charges per hour of the allocations held at the instant (now, and 24 h earlier), each
  at its lease's quoted rate (fixed terms, reservations) or else the list price in force then:
  Σ share × rate; allocations drawn on a term's reservation are left out (the reservation's own
  allocation is rated).
- **measured utilisation**, the **idle split** (fragmented by FGD against the live mix, unrented
  whole, down or in maintenance) and the **power cost per hour** now: :func:`suanli.service.capacity.now`;
  utilisation 24 h earlier: the capacity series over the hour that ended then.
- **energy cost** today (from midnight in the operator's time zone) and this month: the power cost of
  the capacity series over those periods (:func:`suanli.service.capacity.report`: sampled time only),
  and the **margin** = commission − energy cost.
- **counts**: idle whole devices and partly held ("fragmented") devices on available nodes, down
  and maintenance nodes, suspended and interrupted leases (their state now, derived), issued
  invoices not paid, prepaid tenants whose runway is below their warning threshold.

Fractions are rounded half up to 4 places, money to the currency's minor unit (once, here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.capacity import DEVICE_MILLI
from suanli.domain.capacity_series import CapacityFigures
from suanli.domain.fleet import NodeState
from suanli.domain.invoices import InvoiceStatus
from suanli.domain.money import SECONDS_PER_HOUR, round_line
from suanli.domain.overview import Counts, Idle, LeaseHold, Overview, Trend
from suanli.domain.prices import PriceBook
from suanli.ledger.postings import wallet
from suanli.ledger.quotes import RateSegments
from suanli.ledger.quotes import rate_at as quoted_rate_at
from suanli.ledger.rating import add_months, month_of, period_bounds
from suanli.ledger.wallets import RunwayPolicy, Standing, runway
from suanli.service import capacity, revenue_report
from suanli.service import quotes as quote_service
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.service.wallets import _burn_and_accrued
from suanli.store import accounts as account_store
from suanli.store import billing as billing_store
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store import ledger as ledger_store
from suanli.store import overview as store

DAY = timedelta(hours=24)
FRACTION = Decimal("0.0001")


def _frac(x: Decimal) -> Decimal:
    return x.quantize(FRACTION, rounding=ROUND_HALF_UP)


def _held_at(holds: Iterable[LeaseHold], t: datetime, devices: set[int]) -> Decimal:
    """Device-equivalents held at instant ``t`` on the given devices (drawn rows not counted twice)."""
    milli = sum(h.allocation.milli for h in holds
                if h.allocation.device_id in devices and h.allocation.drawn_from is None
                and h.allocation.start <= t and (h.allocation.end is None or h.allocation.end > t))
    return Decimal(milli) / DEVICE_MILLI


def _device_hours(holds: Iterable[LeaseHold], start: datetime, end: datetime, devices: set[int]) -> Decimal:
    total = Decimal(0)
    for h in holds:
        a = h.allocation
        if a.device_id not in devices or a.drawn_from is not None:
            continue
        lo, hi = max(start, a.start), min(end, a.end or end)
        if hi > lo:
            total += a.share * Decimal(int((hi - lo).total_seconds()))
    return total / SECONDS_PER_HOUR


class _Rater:
    """The rate of an allocation: its lease's quote where the lease is bound by one, else the list price."""

    def __init__(self, book: PriceBook, quoted: dict[tuple[str, str, str], RateSegments]) -> None:
        self.book, self.quoted = book, quoted

    def rate(self, h: LeaseHold, t: datetime) -> Decimal:
        a = h.allocation
        q = self.quoted.get((h.lease_id, a.model, a.site))
        if q:
            return quoted_rate_at(q, t)[0]
        return self.book.rate_at(a.model, a.site, t) or Decimal(0)

    def per_hour(self, holds: Sequence[LeaseHold], t: datetime) -> Decimal:
        return sum((h.allocation.share * self.rate(h, t) for h in holds
                    if h.allocation.drawn_from is None and h.allocation.start <= t
                    and (h.allocation.end is None or h.allocation.end > t)), Decimal(0))


def _low_runway(p: Platform, s: Session) -> list[str]:
    """Names of prepaid tenants below their warning runway (or suspended for their balance), now."""
    out = []
    for row in billing_store.wallet_policies(s):
        bal = -ledger_store.balance(s, wallet(row.tenant_id))
        burn, accrued, _ = _burn_and_accrued(p, s, row.tenant_id)
        rw = runway(bal, accrued, burn, RunwayPolicy(row.warn_hours, row.suspend_hours))
        if rw.standing is not Standing.OK or row.standing == Standing.SUSPEND.value or row.suspended:
            out.append(account_store.get_account(s, row.tenant_id).name)
    return sorted(out)


def _series(p: Platform, actor: Principal, start: datetime, end: datetime) -> CapacityFigures | None:
    """The capacity series' figures over ``[start, end)``; None for an empty period (e.g. at midnight)."""
    return capacity.report(p, actor, start, end).total if end > start else None


def _power_cost(f: CapacityFigures | None, currency: str) -> Decimal | None:
    """Power cost of sampled time, to the cent; None when nothing of the period was sampled."""
    return round_line(f.power_cost, currency) if f is not None and f.observed_seconds else None


def _money_report(p: Platform, actor: Principal, start: datetime, end: datetime) -> tuple[Decimal, Decimal]:
    """(revenue, commission) of the money report over ``[start, end)`` (zero for an empty period)."""
    if end <= start:
        return Decimal("0.00"), Decimal("0.00")
    total = revenue_report.revenue_report(p, actor, "site", start.isoformat(), end.isoformat())["total"]
    return total["revenue"], total["commission"]


def overview(p: Platform, actor: Principal) -> Overview:
    """The start page's figures now (operator only)."""
    authorize(actor, Action.READ_OVERVIEW)
    now = p.clock.now()
    cur = p.settings.currency
    month_start, _ = period_bounds(month_of(now))
    last_start = add_months(month_start, -1)
    last_end = min(last_start + (now - month_start), month_start)
    with p.tx() as s:
        devices = lease_store.device_versions(s)
        available = {d.id for d in devices if d.node_state == NodeState.AVAILABLE.value}
        nodes = fleet_store.list_nodes(s)
        holds = store.holds(s, now - 2 * DAY, now + timedelta(microseconds=1))
        ids = sorted({h.lease_id for h in holds})
        rater = _Rater(price_book(p, s), quote_service.billing_rates(s, ids))
        by_state = lease_store.count_by_state(s, now)
        unpaid = len(billing_store.list_invoices(s, tenant_id=None, status=InvoiceStatus.ISSUED))
        low = _low_runway(p, s)
    n = len(available)
    live = capacity.now(p, actor)
    then = _series(p, actor, now - DAY - timedelta(hours=1), now - DAY)
    midnight = now.astimezone(ZoneInfo(p.settings.time_zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    energy_today = _power_cost(_series(p, actor, midnight, now), cur)
    energy_month = _power_cost(_series(p, actor, month_start, now), cur)
    energy_last = _power_cost(_series(p, actor, last_start, last_end), cur) or Decimal("0.00")

    def rate_of(x: Decimal, per: Decimal) -> Decimal | None:
        return _frac(x / per) if per else None

    load: dict[int, int] = {}
    for h in holds:
        a = h.allocation
        if a.drawn_from is None and a.start <= now and (a.end is None or a.end > now):
            load[a.device_id] = load.get(a.device_id, 0) + a.milli
    idle = sum(1 for d in available if load.get(d, 0) == 0)
    fragmented = sum(1 for d in available if 0 < load.get(d, 0) < DEVICE_MILLI)
    hours = Decimal(n) * 24
    rev_now, com_now = _money_report(p, actor, month_start, now)
    rev_before, com_before = _money_report(p, actor, last_start, last_end)
    commission = Trend(com_now, com_before)
    margin = Trend(com_now - (energy_month or 0), com_before - energy_last)
    return Overview(
        as_of=now, currency=cur, devices=n,
        allocation=Trend(rate_of(_held_at(holds, now, available), Decimal(n)),
                         rate_of(_held_at(holds, now - DAY, available), Decimal(n))),
        utilisation=Trend(live.total.utilisation, then.utilisation if then else None),
        lease_rate=Trend(rate_of(_device_hours(holds, now - DAY, now, available), hours),
                         rate_of(_device_hours(holds, now - 2 * DAY, now - DAY, available), hours)),
        revenue_mtd=Trend(rev_now, rev_before),
        commission_mtd=commission,
        run_rate=Trend(round_line(rater.per_hour(holds, now), cur), round_line(rater.per_hour(holds, now - DAY), cur)),
        energy_cost_today=energy_today, energy_cost_mtd=energy_month,
        power_cost_per_hour=round_line(live.power_cost_per_hour, cur),
        idle=Idle(live.total.fragmented, live.total.unrented, live.total.down),
        margin_mtd=margin,
        counts=Counts(
            idle_whole_gpus=idle, fragmented_gpus=fragmented,
            down_nodes=sum(1 for x in nodes if x.state is NodeState.DOWN),
            maintenance_nodes=sum(1 for x in nodes if x.state is NodeState.MAINTENANCE),
            suspended_leases=by_state.get("suspended", 0), interrupted_leases=by_state.get("interrupted", 0),
            unpaid_invoices=unpaid, low_runway_tenants=len(low)),
        low_runway=tuple(low),
        sources={
            "allocation": "allocation records (granted time) at the instant; node states as they are now",
            "utilisation": "telemetry where it reports (capacity series); null where nothing is measured",
            "idle": "capacity now: fragmented by FGD against the live mix of typical requests",
            "lease_rate": "allocation records over the 24 h window",
            "revenue": "the money report: issued invoices' lines and drafts rated to date (provisional)",
            "run_rate": "leases held now at their quoted or list rates",
            "energy": "power cost of the capacity series (measured or modelled from TDP) x PUE x site price",
            "margin": "commission less the energy cost of the same time (sampled time only)",
        })

"""Monthly invoices (the simple path): lease seconds × list price, piecewise across price changes.

One line per (lease, model, site, supplier, price segment)::

    unit price  = Σ over the lease's devices there: share × device-hour price      (per hour)
    amount      = round_line(seconds × unit price ÷ 3600)                          (rounded once)

``seconds`` is the part of the lease's billable window (activation to end, never the future)
inside the month, the allocation's own window (a lease re-placed after a failure holds several
allocations in turn) and the price segment. The supplier's share of a line is
``max(floor × share-hours, (1 − commission rate) × amount)`` capped at the amount, rounded by the
same rule; the operator's commission is the rest, so the two always add up to the line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal, Role
from suanli.domain.leases import Lease
from suanli.domain.money import SECONDS_PER_HOUR, round_line
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.service.leases import tick
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import accounts as account_store
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store


@dataclass(frozen=True)
class InvoiceLine:
    lease_id: str
    form: str
    model: str
    site: str
    supplier: str
    devices: Decimal
    """Device count times share (e.g. 2 for two whole GPUs, 0.25 for a quarter slice)."""
    start: datetime
    end: datetime
    seconds: int
    unit_price: Decimal
    """Per hour for the lease's devices here."""
    amount: Decimal
    supplier_share: Decimal
    commission: Decimal


@dataclass(frozen=True)
class Invoice:
    tenant: str
    period: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    issued_at: datetime

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def period_bounds(period: str) -> tuple[datetime, datetime]:
    try:
        y, m = (int(x) for x in period.split("-"))
        start = datetime(y, m, 1, tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"period {period!r} must be YYYY-MM, e.g. 2026-11", field="period") from None
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    return start, end


def lines_for(p: Platform, s: Any, leases: list[Lease], start: datetime, end: datetime, now: datetime) -> list[InvoiceLine]:
    book = price_book(p, s)
    floors = fleet_store.floors_by_key(s)
    cur = p.settings.currency
    out: list[InvoiceLine] = []
    for lease in leases:
        window = lease.billable_window(now)
        if window is None:
            continue
        a, b = max(window[0], start), min(window[1], end)
        if b <= a:
            continue
        # each allocation bills only inside its own window (a re-placed lease has several)
        groups: dict[tuple[str, str, str, datetime, datetime], Decimal] = defaultdict(Decimal)
        for al in lease.allocations:
            lo, hi = max(a, al.start), min(b, al.end or b)
            if hi > lo:
                groups[(al.model, al.site, al.supplier, lo, hi)] += al.share
        for (model, site, supplier, lo, hi), devices in sorted(groups.items()):
            for seg in book.segments(model, site, lo, hi):
                unit = devices * seg.rate_per_device_hour
                amount = round_line(seg.seconds * unit / SECONDS_PER_HOUR, cur)
                floor = floors.get((supplier, model))
                share = (1 - lease.commission_rate) * amount
                if floor is not None:
                    share = max(share, floor * devices * seg.seconds / SECONDS_PER_HOUR)
                share = round_line(min(share, amount), cur)
                out.append(InvoiceLine(lease.id, lease.form.value, model, site, supplier, devices, seg.start, seg.end,
                                       seg.seconds, unit, amount, share, amount - share))
    return out


def invoice(p: Platform, actor: Principal, period: str, tenant: str | None = None) -> Invoice:
    """A tenant's invoice for a month (to date, for the current month). Tenants see only their own."""
    start, end = period_bounds(period)
    tick(p)
    now = p.clock.now()
    with p.tx() as s:
        if actor.role is Role.TENANT:
            if tenant not in (None, actor.name, actor.account_id):
                raise NotFoundError(f"no tenant {tenant!r} visible to you")
            who = actor
        elif actor.role is Role.OPERATOR:
            if tenant is None:
                raise ValidationError("the operator must name the tenant (tenant=NAME)", field="tenant")
            who = account_store.get_account(s, tenant)
        else:
            raise PermissionDeniedError("suppliers see statements of their revenue, not tenants' invoices")
        leases = lease_store.list_leases(s, tenant_id=who.account_id, overlapping=(start, end))
        lines = lines_for(p, s, sorted(leases, key=lambda x: (x.activated_at or x.start, x.id)), start, end, now)
    return Invoice(who.name, period, p.settings.currency, tuple(lines), now)


def supplier_revenue(p: Platform, actor: Principal, period: str, supplier: str | None = None) -> dict[str, Any]:
    """A supplier's revenue share for a month, per node; the operator may ask for any supplier."""
    start, end = period_bounds(period)
    actor.require(Role.SUPPLIER, Role.OPERATOR)
    if actor.role is Role.SUPPLIER:
        if supplier not in (None, actor.supplier):
            raise NotFoundError(f"no supplier {supplier!r} visible to you")
        supplier = actor.supplier
    if supplier is None:
        raise ValidationError("name the supplier (supplier=NAME)", field="supplier")
    tick(p)
    now = p.clock.now()
    with p.tx() as s:
        leases = lease_store.list_leases(s, supplier=supplier, overlapping=(start, end))
        lines = [x for x in lines_for(p, s, leases, start, end, now) if x.supplier == supplier]
    revenue = sum((x.supplier_share for x in lines), Decimal("0.00"))
    gross = sum((x.amount for x in lines), Decimal("0.00"))
    return {"supplier": supplier, "period": period, "currency": p.settings.currency, "gross": gross,
            "supplier_share": revenue, "commission": gross - revenue, "lines": len(lines)}

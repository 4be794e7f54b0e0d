"""Rating of host resources held beyond the devices' share (docs/billing.md "Resource prices").

What is billed: the **extras** of each hold (:class:`suanli.domain.shapes.HoldSpan`: the part above
the proportional share, all of a ``cpu`` instance), per second of the hold's window inside the
period and before ``now``, at the resource list price in force at each second (a site's own price
over the all-sites one). A price never applies to time before its ``effective_from``.

Lines: one per (lease, node, resource, unit price) and period, the quantity in the price's unit
(core-hours, GiB-hours, Gbps-hours, GiB-months of 730 hours), **rounded once** (``round_line``) —
the same rule as device time. A second with no price in force is not charged (no line). The
supplier's share and the commission follow :func:`suanli.ledger.revenue.split` (no floor).

Quote lines (:func:`quote_lines`) use the same quantities and rounding, per node, so the quote of a
term inside one month equals its invoice lines to the cent.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import round_line
from suanli.domain.quotes import Basis, q12
from suanli.domain.shapes import (
    HOURS_PER_MONTH,
    UNIT_LABEL,
    Amounts,
    HoldSpan,
    ResourceKind,
    ResourcePrice,
    extra_units,
    quantity,
)
from suanli.ledger.quotes import QuoteLine
from suanli.ledger.rating import ChargeLine, month_of
from suanli.ledger.revenue import split


class ResourceBook:
    """The resource list prices, effective-dated per (resource, site)."""

    def __init__(self, prices: Sequence[ResourcePrice]) -> None:
        self._by: dict[tuple[ResourceKind, str | None], list[ResourcePrice]] = defaultdict(list)
        for x in sorted(prices, key=lambda x: x.effective_from):
            self._by[(x.resource, x.site)].append(x)

    def price_at(self, kind: ResourceKind, site: str, at: datetime) -> ResourcePrice | None:
        for key in ((kind, site), (kind, None)):
            live = [x for x in self._by.get(key, ()) if x.effective_from <= at]
            if live:
                return live[-1]
        return None

    def changes(self, kind: ResourceKind, site: str, start: datetime, end: datetime) -> list[datetime]:
        return sorted({x.effective_from for key in ((kind, site), (kind, None)) for x in self._by.get(key, ())
                       if start < x.effective_from < end})


def _segments(book: ResourceBook, kind: ResourceKind, site: str, a: datetime, b: datetime
              ) -> list[tuple[datetime, datetime, ResourcePrice | None]]:
    cuts = [a, *book.changes(kind, site, a, b), b]
    return [(x, y, book.price_at(kind, site, x)) for x, y in itertools.pairwise(cuts) if y > x]


def rate_holds(spans: Sequence[HoldSpan], book: ResourceBook, period_start: datetime, period_end: datetime,
               now: datetime, *, commission_rate: Decimal, lease_commission: Mapping[str, Decimal],
               currency: str) -> list[ChargeLine]:
    """The charge lines of the extras held over [period_start, min(period_end, now))."""
    stop = min(period_end, now)
    acc: dict[tuple[str, str, str, str, ResourceKind, Decimal], _Acc] = {}
    for h in spans:
        a = max(h.start, period_start)
        b = stop if h.end is None else min(h.end, stop)
        if b <= a:
            continue
        for kind, units in extra_units(h.extra).items():
            for x, y, price in _segments(book, kind, h.site, a, b):
                if price is None:
                    continue
                q = quantity(kind, units, Decimal(int((y - x).total_seconds())))
                key = (h.lease_id, h.node, h.site, h.supplier, kind, price.amount)
                g = acc.get(key)
                if g is None:
                    acc[key] = _Acc(q, x, y, units)
                else:
                    g.quantity, g.first, g.last = g.quantity + q, min(g.first, x), max(g.last, y)
    lines = []
    period = month_of(period_start)
    for (lease, node, site, supplier, kind, unit_price), g in sorted(
            acc.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][4].value, kv[0][5])):
        amount = round_line(g.quantity * unit_price, currency)
        share, commission = split(amount, lease_commission.get(lease, commission_rate), None, Decimal(0), currency)
        lines.append(ChargeLine(
            kind="usage", meter=kind.value, model="", site=site, supplier=supplier, lease=lease, plan="", package="",
            start=g.first, end=g.last, quantity=g.quantity, price_unit=UNIT_LABEL[kind], unit_price=unit_price,
            amount=amount, supplier_share=share, commission=commission, records=0, paid_contract=False,
            usage_period=period, description=f"{_units(kind, g.units)} beyond the devices' share on {node}",
            node=node))
    return lines


@dataclass
class _Acc:
    quantity: Decimal
    first: datetime
    last: datetime
    units: Decimal


def _units(kind: ResourceKind, units: Decimal) -> str:
    n = units.normalize()
    return {ResourceKind.CPU_CORE_HOUR: f"{n} cores", ResourceKind.RAM_GIB_HOUR: f"{n} GiB RAM",
            ResourceKind.NIC_GBPS_HOUR: f"{n} Gbps NIC", ResourceKind.DISK_GIB_MONTH: f"{n} GiB disk"}[kind]


def quote_lines(extras: Sequence[tuple[str, str, Amounts]], book: ResourceBook, start: datetime,
                end: datetime | None, at: datetime, currency: str) -> list[QuoteLine]:
    """Quote lines of ``extras`` ((node, site, extra) per node) at the prices in force at ``at``: per
    resource and site, ``devices`` = the units held beyond the share, ``device_hour`` = the price per
    unit-hour (disk: the GiB-month price ÷ 730), and for a fixed term its total rounded once per node
    (the invoice's lines). Resources follow their list price: a later price change applies from then on."""
    per: dict[tuple[ResourceKind, str], list[tuple[str, Decimal]]] = defaultdict(list)
    for node, site, extra in extras:
        for kind, units in extra_units(extra).items():
            per[(kind, site)].append((node, units))
    out = []
    for (kind, site), nodes in sorted(per.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
        price = book.price_at(kind, site, at)
        if price is None:
            continue
        hourly_rate = price.amount / HOURS_PER_MONTH if kind is ResourceKind.DISK_GIB_MONTH else price.amount
        units = sum((u for _n, u in nodes), Decimal(0))
        hours = total = None
        if end is not None:
            secs = Decimal(max(0, int((end - start).total_seconds())))
            hours = secs / 3600
            total = sum((round_line(quantity(kind, u, secs) * price.amount, currency) for _n, u in nodes),
                        Decimal("0.00"))
        out.append(QuoteLine(kind.value, site, start, units, q12(hourly_rate), None, q12(hourly_rate), "",
                             Basis.RESOURCE, units * q12(hourly_rate), hours, total))
    return out


__all__ = ["ResourceBook", "quote_lines", "rate_holds"]

"""Pricing simulated device time through the ledger: the server's rating code, Decimal, one book.

A simulated run serves device-seconds on nodes (:attr:`suanli.sim.dynamic.DynamicResult.served`).
:func:`rate_served` turns them into usage sums (:class:`suanli.domain.usage.UsageSum`, meter
``device_seconds``, one per node and model, dimensions model / site / supplier / node) and rates
them with :func:`suanli.ledger.rating.rate` under a :class:`PriceList` of domain objects: the list
price in force at the run's start (:class:`suanli.domain.prices.PriceBook`, the operator's
currency), every line rounded once (:func:`suanli.domain.money.round_line`) and split into the
supplier's share (at least its floor) and the operator's commission (:mod:`suanli.ledger.revenue`),
exactly as an invoice line of the same usage would be for a tenant on list prices. Device time of a
model with no list price is kept as ``unpriced`` (revenue 0, the device-hours reported).

Which price list:

* a run on the live fleet (:mod:`suanli.sim.whatif`): the live list prices, floors and commission
  rate exported by the service;
* a trace run (``suanli sim run``): the trace's models are anonymised (``G2``, ``G3``) or old
  (``P100``, ``V100M16``) and have no list price of their own. Every trace model is priced at one
  device-hour list price (:func:`trace_price_list`), by default the median device-hour price of the
  demo operator's list (:func:`suanli.domain.demo.demo_fleet`, converted with the catalog's P):
  the one place where the server's demo seeds its list prices, not a second table.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from suanli.domain.catalog import AcceleratorModel, DeviceKind, Vendor
from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.clock import EARLIEST
from suanli.domain.demo import demo_fleet
from suanli.domain.meters import Meter
from suanli.domain.prices import PriceBook, PriceCorrection, PriceEntry, PriceUnit, device_hour_price
from suanli.domain.usage import UsageSum
from suanli.ledger.rating import RatingInput, rate
from suanli.sim.dynamic import DynamicResult

ZERO = Decimal(0)
SIM_TENANT = "simulated"
"""The tenant of the rated usage: a tenant with no plan, so list prices apply."""


@dataclass(frozen=True)
class PriceList:
    """What rating needs, as domain objects: the list prices (effective-dated), the models (for
    P-year conversion), the suppliers' floors per (supplier, model), the commission rate."""

    book: PriceBook
    models: Mapping[str, AcceleratorModel]
    floors: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    commission_rate: Decimal = Decimal("0.15")
    currency: str = "CNY"
    label: str = ""

    @property
    def device_p(self) -> dict[str, Decimal]:
        return {name: m.p for name, m in self.models.items()}

    def changed(self, pct: Decimal, only: Iterable[str] = ()) -> PriceList:
        """Every list price (and correction) of the models in ``only`` (all models when empty)
        multiplied by ``1 + pct/100``: exact, rounded nowhere but on the rated line."""
        keep = set(only)
        factor = 1 + pct / 100

        def hit(model: str) -> bool:
            return not keep or model in keep

        entries = [PriceEntry(e.model, e.site, e.unit, e.amount * factor, e.currency, e.effective_from)
                   if hit(e.model) else e for e in self.book.entries]
        corrections = [PriceCorrection(c.id, c.model, c.site, c.unit, c.amount * factor, c.currency, c.start, c.end,
                                       c.at, c.reason, c.seq) if hit(c.model) else c for c in self.book.corrections]
        label = f"{self.label}; list prices {pct:+}%" + (f" ({', '.join(sorted(keep))})" if keep else "")
        return PriceList(PriceBook(entries, dict(self.models), corrections), self.models, self.floors,
                         self.commission_rate, self.currency, label)

    def rate_at(self, model: str, site: str, at: datetime) -> Decimal | None:
        return self.book.rate_at(model, site, at) if model in self.models else None


@dataclass(frozen=True)
class Served:
    """Device time served on one node for one model."""

    node: str
    model: str
    site: str
    supplier: str
    device_seconds: Decimal


@dataclass(frozen=True)
class Revenue:
    """The rated run: sums of the ledger's lines (each rounded once)."""

    revenue: Decimal
    supplier_share: Decimal
    commission: Decimal
    device_hours: Decimal
    unpriced_device_hours: Decimal
    lines: int
    by_model: dict[str, Decimal]
    by_site: dict[str, Decimal]


def rate_served(served: Sequence[Served], prices: PriceList, start: datetime, end: datetime) -> Revenue:
    """Rate ``served`` as one tenant on list prices over [start, end) (see the module docstring).
    Every sum is rated at the list price in force at ``start``."""
    end = max(end, start + timedelta(seconds=1))
    sums = [UsageSum(Meter.DEVICE_SECONDS, x.model, x.site, x.supplier, x.node, "", "", x.device_seconds, 1,
                     start, start) for x in served if x.device_seconds > 0]
    rated = rate(RatingInput(tenant=SIM_TENANT, period_start=start, period_end=end, records=(), plans=(),
                             book=prices.book, device_p=prices.device_p, floors=prices.floors,
                             commission_rate=prices.commission_rate, currency=prices.currency, sums=sums,
                             final=False))
    rev = share = comm = unpriced = hours = ZERO
    by_model: dict[str, Decimal] = {}
    by_site: dict[str, Decimal] = {}
    for line in rated.lines:
        hours += line.quantity
        if line.kind == "unpriced":
            unpriced += line.quantity
            continue
        rev += line.amount
        share += line.supplier_share
        comm += line.commission
        by_model[line.model] = by_model.get(line.model, ZERO) + line.amount
        by_site[line.site] = by_site.get(line.site, ZERO) + line.amount
    return Revenue(rev, share, comm, hours, unpriced, len(rated.lines), by_model, by_site)


def demo_reference_price() -> Decimal:
    """The median device-hour list price of the demo operator's list (all-sites entries)."""
    cat = builtin_catalog()
    out = [device_hour_price(Decimal(str(p["amount"])), PriceUnit(p["unit"]), cat.get(p["model"]))
           for p in demo_fleet()["prices"] if not p.get("site")]
    return Decimal(statistics.median(out))


def trace_model(name: str) -> AcceleratorModel:
    """The catalog's model of a trace model name (by name or alias), else a model known only by
    name (no P: priced per device-hour only)."""
    cat = builtin_catalog()
    if name in cat:
        m = cat.get(name)
        return AcceleratorModel(name, m.vendor, m.kind, m.memory_gib, m.fp16_tflops, m.fp32_tflops, m.tdp_watts,
                                m.interconnect_gbps, m.source, ())
    return AcceleratorModel(name, Vendor.OTHER, DeviceKind.GPU, 0, ZERO, ZERO, 0, 0,
                            "trace model, not in the catalog: priced per device-hour only", ())


def trace_price_list(models: Iterable[str], device_hour: Decimal | None = None, currency: str = "CNY",
                     at: datetime | None = None) -> PriceList:
    """One all-sites list price per device-hour for every model of a trace (see the module docstring)."""
    price = demo_reference_price() if device_hour is None else device_hour
    since = at or EARLIEST
    names = sorted(set(models))
    entries = [PriceEntry(n, None, PriceUnit.DEVICE_HOUR, price, currency, since) for n in names]
    ms = {n: trace_model(n) for n in names}
    label = (f"every trace model at {price.quantize(Decimal('0.01'))} {currency} per device-hour"
             + (" (median of the demo list prices, domain/demo.py)" if device_hour is None else ""))
    return PriceList(PriceBook(entries, ms), ms, {}, Decimal("0.15"), currency, label)


def served_of(served: Mapping[tuple[int, int], Decimal], node_names: Sequence[str], model_names: Sequence[str],
              node_sites: Sequence[str] = (), node_suppliers: Sequence[str] = ()) -> list[Served]:
    """A run's served device-seconds per (node index, model code) as :class:`Served` rows."""
    return [Served(node_names[n], model_names[m], node_sites[n] if node_sites else "",
                   node_suppliers[n] if node_suppliers else "", q) for (n, m), q in sorted(served.items())]


RUN_START = datetime(2026, 1, 1, tzinfo=UTC)
"""The instant a trace run's device time is rated at (a trace has no calendar; its list prices are
in force from 2000 on)."""


def price_run(result: DynamicResult, node_names: Sequence[str], model_names: Sequence[str], prices: PriceList,
              horizon_s: float, *, start: datetime = RUN_START, node_sites: Sequence[str] = (),
              node_suppliers: Sequence[str] = ()) -> Revenue:
    """Rate a run's served time (:func:`rate_served`) and set its ``revenue``, ``currency`` and label."""
    rev = rate_served(served_of(result.served, node_names, model_names, node_sites, node_suppliers), prices, start,
                      start + timedelta(seconds=horizon_s))
    result.revenue, result.currency, result.price_label = rev.revenue, prices.currency, prices.label
    return rev

"""Price units and effective-dated list prices.

An operator quotes a price per device-hour or per P-year (元/P/年). Conversion uses the catalog's
dense FP16 figure::

    device-hour price = P-year price × device P ÷ 8,760
    P-year price      = device-hour price × 8,760 ÷ device P

(180,000 元/P/年 on an H800 of 0.9894 P → 20.3301… 元 per device-hour.) Conversions are exact
Decimals; nothing is rounded here (see :func:`suanli.domain.money.round_line`).

A :class:`PriceBook` holds effective-dated entries for (model, site); a site-less entry is the
default for every site. :meth:`PriceBook.segments` cuts a time window at every price change so
a lease across a change is billed piecewise: the price in force at each second applies.

A new list price is effective now or later, never earlier (the service refuses a past
``effective_from``). The past is changed only by a :class:`PriceCorrection`, an operator action
with a reason: over its window ``[start, end)`` the model's price (at one site, or at every site)
*was* its amount. The book applies corrections over the entries; where two corrections overlap
the later one (by ``at``) wins. Months already invoiced are not re-rated: the correction issues
credit or debit notes for them (:mod:`suanli.service.price_corrections`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.catalog import AcceleratorModel
from suanli.domain.money import HOURS_PER_YEAR
from suanli.errors import NotFoundError, ValidationError


class PriceUnit(StrEnum):
    DEVICE_HOUR = "device_hour"
    P_YEAR = "p_year"


def device_hour_price(amount: Decimal, unit: PriceUnit, model: AcceleratorModel) -> Decimal:
    if unit is PriceUnit.DEVICE_HOUR:
        return amount
    return amount * model.p / HOURS_PER_YEAR


def p_year_price(amount: Decimal, unit: PriceUnit, model: AcceleratorModel) -> Decimal:
    if unit is PriceUnit.P_YEAR:
        return amount
    return amount * HOURS_PER_YEAR / model.p


@dataclass(frozen=True)
class PriceEntry:
    """A list price as the operator entered it, in force from ``effective_from``."""

    model: str
    site: str | None
    unit: PriceUnit
    amount: Decimal
    currency: str
    effective_from: datetime

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValidationError(f"price must be > 0, got {self.amount}", field="amount")


@dataclass(frozen=True)
class PriceCorrection:
    """Over ``[start, end)`` the price of ``model`` at ``site`` (every site when ``None``) was
    ``amount`` in ``unit``: an operator's correction of the past, made at ``at`` for ``reason``."""

    id: str
    model: str
    site: str | None
    unit: PriceUnit
    amount: Decimal
    currency: str
    start: datetime
    end: datetime
    at: datetime
    reason: str = ""
    seq: int = 0
    """The order corrections were made in (the store's sequence): where two overlap the later applies."""

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValidationError(f"price must be > 0, got {self.amount}", field="amount")
        if self.end <= self.start:
            raise ValidationError(f"a correction's window must end after it starts ({self.start.isoformat()} .. "
                                  f"{self.end.isoformat()})", field="to")

    def covers(self, site: str, at: datetime) -> bool:
        return (self.site is None or self.site == site) and self.start <= at < self.end

    def as_entry(self) -> PriceEntry:
        return PriceEntry(self.model, self.site, self.unit, self.amount, self.currency, self.start)


@dataclass(frozen=True)
class CorrectionNote:
    """A credit note (the corrected price is lower) or a debit note (higher) that a correction
    issued on one issued invoice: the difference per affected line, split like the line."""

    id: str
    correction_id: str
    invoice_id: str
    tenant_id: str
    kind: str
    """``credit`` or ``debit``."""
    amount: Decimal
    """Sum of the lines' differences (> 0), before tax."""
    tax: Decimal
    total: Decimal
    supplier_share: Decimal
    commission: Decimal
    to_wallet: bool
    lines: tuple[dict[str, str], ...]
    reason: str
    at: datetime


@dataclass(frozen=True)
class CorrectionRecord:
    """A stored correction with its audit trail: who made it, the prices it replaced, the notes it issued."""

    correction: PriceCorrection
    actor_id: str
    actor_name: str
    old_prices: tuple[dict[str, str | None], ...]
    notes: tuple[CorrectionNote, ...] = ()


@dataclass(frozen=True)
class PriceSegment:
    start: datetime
    end: datetime
    rate_per_device_hour: Decimal
    entry: PriceEntry

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


class PriceBook:
    """Effective-dated list prices. Lookup at an instant: the (model, site) entry in force then, if
    any, else the all-sites (model, None) entry in force then: a site's own price takes over from
    its first effective instant; before it the all-sites price applies."""

    def __init__(self, entries: Iterable[PriceEntry], models: dict[str, AcceleratorModel],
                 corrections: Iterable[PriceCorrection] = ()) -> None:
        self._models = models
        self._by_key: dict[tuple[str, str | None], list[PriceEntry]] = {}
        for e in entries:
            self._by_key.setdefault((e.model, e.site), []).append(e)
        for lst in self._by_key.values():
            lst.sort(key=lambda e: e.effective_from)
        self._corrections: dict[str, list[PriceCorrection]] = {}
        for c in corrections:
            self._corrections.setdefault(c.model, []).append(c)
        for cl in self._corrections.values():
            cl.sort(key=lambda c: (c.seq, c.at))

    @property
    def entries(self) -> list[PriceEntry]:
        return [e for lst in self._by_key.values() for e in lst]

    @property
    def corrections(self) -> list[PriceCorrection]:
        return [c for cl in self._corrections.values() for c in cl]

    def with_correction(self, c: PriceCorrection) -> PriceBook:
        """This book with one more correction (the latest)."""
        return PriceBook(self.entries, self._models, [*self.corrections, c])

    def instants(self) -> list[datetime]:
        """Every instant at which some list price changes (all models and sites, corrections'
        bounds included), in order."""
        out = {e.effective_from for lst in self._by_key.values() for e in lst}
        out |= {t for cl in self._corrections.values() for c in cl for t in (c.start, c.end)}
        return sorted(out)

    def _history(self, model: str, site: str) -> list[PriceEntry]:
        """The entries that can be in force for (model, site), in order: the all-sites entries
        until the site's own first one, then the site's own."""
        own = self._by_key.get((model, site), [])
        default = self._by_key.get((model, None), [])
        if not own:
            return default
        return [e for e in default if e.effective_from < own[0].effective_from] + own

    def _correction_at(self, model: str, site: str, at: datetime) -> PriceCorrection | None:
        for c in reversed(self._corrections.get(model, ())):
            if c.covers(site, at):
                return c
        return None

    def entry_at(self, model: str, site: str, at: datetime) -> PriceEntry | None:
        c = self._correction_at(model, site, at)
        if c is not None:
            return c.as_entry()
        current = None
        for e in self._history(model, site):
            if e.effective_from <= at:
                current = e
            else:
                break
        return current

    def rate_at(self, model: str, site: str, at: datetime) -> Decimal | None:
        """Device-hour price in force at ``at``, or ``None`` when the model has no price there."""
        e = self.entry_at(model, site, at)
        return None if e is None else device_hour_price(e.amount, e.unit, self._models[model])

    def segments(self, model: str, site: str, start: datetime, end: datetime) -> list[PriceSegment]:
        """Cut [start, end) at every price change; raise if some part has no price."""
        if end <= start:
            return []
        history = self._history(model, site)
        inner = {e.effective_from for e in history if start < e.effective_from < end}
        inner |= {t for c in self._corrections.get(model, ()) if c.site in (None, site)
                  for t in (c.start, c.end) if start < t < end}
        cuts = [start, *sorted(inner), end]
        out: list[PriceSegment] = []
        for a, b in itertools.pairwise(cuts):
            e = self.entry_at(model, site, a)
            if e is None:
                raise NotFoundError(
                    f"no price for {model} at site {site} on {a.isoformat()}; set one with `suanli price set`",
                    model=model, site=site,
                )
            out.append(PriceSegment(a, b, device_hour_price(e.amount, e.unit, self._models[model]), e))
        return out

"""Price units and effective-dated list prices.

An operator quotes a price per device-hour or per P-year (元/P/年). Conversion uses the catalog's
dense FP16 figure::

    device-hour price = P-year price × device P ÷ 8,760
    P-year price      = device-hour price × 8,760 ÷ device P

(180,000 元/P/年 on an H800 of 0.9894 P → 20.3301… 元 per device-hour.) Conversions are exact
Decimals; nothing is rounded here (see :func:`suanli.domain.money.round_line`).

A :class:`PriceBook` holds effective-dated entries for (model, site); a site-less entry is the
default for every site. :meth:`PriceBook.segments` cuts a time window at every price change so
a lease across a change is billed piecewise.
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
class PriceSegment:
    start: datetime
    end: datetime
    rate_per_device_hour: Decimal
    entry: PriceEntry

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


class PriceBook:
    """Effective-dated list prices. Lookup: the (model, site) entry if any, else (model, None)."""

    def __init__(self, entries: Iterable[PriceEntry], models: dict[str, AcceleratorModel]) -> None:
        self._models = models
        self._by_key: dict[tuple[str, str | None], list[PriceEntry]] = {}
        for e in entries:
            self._by_key.setdefault((e.model, e.site), []).append(e)
        for lst in self._by_key.values():
            lst.sort(key=lambda e: e.effective_from)

    def instants(self) -> list[datetime]:
        """Every instant at which some list price changes (all models and sites), in order."""
        return sorted({e.effective_from for lst in self._by_key.values() for e in lst})

    def _history(self, model: str, site: str) -> list[PriceEntry]:
        return self._by_key.get((model, site)) or self._by_key.get((model, None)) or []

    def entry_at(self, model: str, site: str, at: datetime) -> PriceEntry | None:
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
        cuts = [start] + [e.effective_from for e in history if start < e.effective_from < end] + [end]
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

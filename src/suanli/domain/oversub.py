"""Oversubscription (超卖) of a device's compute share: the burstable slice class.

A **burstable** slice of compute share ``c`` (milli) and memory share ``m`` (milli of the
device's memory) on a device whose (site, model) has the operator's factor ``f`` takes

    charge = max(ceil(c ÷ f), m)

milli of the device's capacity: that is what ``allocations.milli`` holds and what the database's
capacity constraint sums (at most 1000 per device at any instant). Compute is oversold by ``f``;
memory never is (the memory share is charged in full, so the slices' memory on one device never
sums above the device's memory). A guaranteed slice or a whole device takes its full share, as
before.

The tenant buys and is billed for the **sold** share ``max(c, m)`` (what a guaranteed slice of the
same size is billed for), less the burstable discount ``d`` % the operator sets with the factor:
the billed share is ``sold ÷ 1000 × (100 − d) ÷ 100`` of a device, rated at the list price through
the same ledger as every lease (one rounding per invoice line). The job's compute limit is its
sold compute share ``c``: it may burst up to what it bought when its neighbours are idle, and is
slowed when they are busy.

Pools: a device holds either guaranteed work or burstable slices at any instant, never both (a
guaranteed tenant never shares a device with oversold neighbours). Burstable slices go first to
devices already in the burstable pool, then to free devices.

Enforcement: a burstable slice shares its device's compute in time, so it is held to its limits by
a limit-based mechanism: HAMi-core, else MPS (NVIDIA), never a MIG instance or a vNPU template (hard
partitions cannot be oversold). On a model or backend with neither it is refused before it is granted
(422 naming the models that can) unless the order sets ``allow_unenforced`` (docs/slices.md).

Bounds: ``1 <= factor <= MAX_FACTOR`` (2 decimal places), ``0 < discount <= MAX_DISCOUNT_PCT`` %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from suanli.domain.catalog import AcceleratorModel
from suanli.domain.slicing import NONE, Mechanism, preference
from suanli.errors import ValidationError

MILLI = 1000
MIN_FACTOR = Decimal(1)
MAX_FACTOR = Decimal(4)
"""Beyond 4 slices of compute sold per unit of compute, a burstable job would run at a quarter of
what it bought whenever its neighbours are busy: not a product anyone should be sold."""
MAX_DISCOUNT_PCT = Decimal(90)
PLACES = Decimal("0.01")
SATURATED_PCT = 95
"""A burstable-pool device sampled at or above this utilisation is saturated: its slices' summed
demand hit the device's limit, so a burstable job may have been slowed."""


class SliceClass(StrEnum):
    GUARANTEED = "guaranteed"
    BURSTABLE = "burstable"


@dataclass(frozen=True)
class Factor:
    """The operator's oversubscription terms for one (site, model) from ``set_at`` on."""

    id: int
    site: str
    model: str
    factor: Decimal
    discount_pct: Decimal
    offered: bool
    """False: burstable slices are not sold on this (site, model) any more (leases keep their terms)."""
    set_by: str
    set_at: datetime


@dataclass(frozen=True)
class BurstableTerms:
    """A burstable slice's terms, fixed at its first grant."""

    sold_milli: int
    compute_milli: int
    factor: Decimal
    discount_pct: Decimal
    factor_id: int

    @property
    def billed_share(self) -> Decimal:
        return billed_share(self.sold_milli, self.discount_pct)


def _decimal(value: Any, field: str, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError(f"{field} must be {what}, got {value!r}", field=field)
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{field} must be {what}, got {value!r}", field=field) from None
    if not d.is_finite():
        raise ValidationError(f"{field} must be {what}, got {value!r}", field=field)
    if abs(d) >= 10**6:
        return d  # out of every range: the caller's bound check names it
    if d != d.quantize(PLACES):
        raise ValidationError(f"{field} must be {what} with at most 2 decimal places, got {value!r}", field=field)
    return d.quantize(PLACES)


def parse_factor(value: Any) -> Decimal:
    what = f"a number from {MIN_FACTOR} to {MAX_FACTOR} (compute sold per unit of compute)"
    f = _decimal(value, "factor", what)
    if f < MIN_FACTOR or f > MAX_FACTOR:
        raise ValidationError(f"factor must be from {MIN_FACTOR} to {MAX_FACTOR} (1: no overselling), got {value!r}",
                              field="factor", minimum=str(MIN_FACTOR), maximum=str(MAX_FACTOR))
    return f


def parse_discount(value: Any) -> Decimal:
    what = f"a percentage > 0 and <= {MAX_DISCOUNT_PCT}"
    d = _decimal(value, "discount_pct", what)
    if d <= 0 or d > MAX_DISCOUNT_PCT:
        raise ValidationError(f"discount_pct must be > 0 and <= {MAX_DISCOUNT_PCT} (% off the list price of a "
                              f"burstable slice), got {value!r}", field="discount_pct",
                              minimum="0.01", maximum=str(MAX_DISCOUNT_PCT))
    return d


def parse_slice_class(raw: Any, form_is_slice: bool) -> SliceClass:
    """The order's ``slice_class`` (default guaranteed); burstable is for the slice form only."""
    if raw is None:
        return SliceClass.GUARANTEED
    try:
        cls = SliceClass(str(raw).lower())
    except ValueError:
        allowed = ", ".join(c.value for c in SliceClass)
        raise ValidationError(f"slice_class {raw!r} is not a slice class; allowed: {allowed}",
                              field="slice_class") from None
    if cls is SliceClass.BURSTABLE and not form_is_slice:
        raise ValidationError("slice_class burstable is for the slice form only (a whole device or server is "
                              "never oversold)", field="slice_class")
    return cls


BURSTABLE_MECHANISMS = (Mechanism.HAMI, Mechanism.MPS)
"""What may hold a burstable slice to its limits, best first: limit-based sharing, not a hard partition."""


def burstable_mechanism(model: AcceleratorModel, have: frozenset[Mechanism]) -> Mechanism | None:
    """The mechanism that enforces a burstable slice of ``model`` on a backend that has ``have`` (None: nothing)."""
    return next((m for m in preference(model) if m in BURSTABLE_MECHANISMS and m in have), None)


def burstable_enforcement(model: AcceleratorModel, have: frozenset[Mechanism]) -> str:
    """The enforcement label of a burstable slice of ``model`` (``none``: nothing holds it to its limits)."""
    m = burstable_mechanism(model, have)
    return NONE if m is None else m.value


def charge_milli(compute_milli: int, memory_milli: int, factor: Decimal) -> int:
    """The device capacity a burstable slice takes: compute ÷ factor rounded up, never below its memory share."""
    return max(math.ceil(Decimal(compute_milli) / factor), memory_milli, 1)


def billed_share(sold_milli: int, discount_pct: Decimal) -> Decimal:
    """Of one device: the sold share less the burstable discount (exact Decimal; rated like any share)."""
    return Decimal(sold_milli) / MILLI * (100 - discount_pct) / 100


def burstable_note(discount_pct: Decimal) -> str:
    return f"burstable: may be slowed when neighbours are busy; priced {pct_text(discount_pct)} % lower"


def pct_text(d: Decimal) -> str:
    return format(d.normalize(), "f")


def in_force(factors: list[Factor], site: str, model: str, at: datetime) -> Factor | None:
    """The latest factor row of (site, model) set at or before ``at`` (None: never set)."""
    best: Factor | None = None
    for f in factors:
        if f.site == site and f.model == model and f.set_at <= at and (best is None or (f.set_at, f.id) > (best.set_at, best.id)):
            best = f
    return best


def contention_share(samples: int, saturated: int) -> Decimal | None:
    """Share of samples in which a burstable-pool device was saturated (None without samples)."""
    if samples <= 0:
        return None
    return (Decimal(saturated) / samples).quantize(Decimal("0.0001"))


__all__ = ["MAX_DISCOUNT_PCT", "MAX_FACTOR", "MIN_FACTOR", "SATURATED_PCT", "BurstableTerms", "Factor", "SliceClass",
           "billed_share", "burstable_enforcement", "burstable_mechanism", "burstable_note", "charge_milli", "contention_share", "in_force", "parse_discount",
           "parse_factor", "parse_slice_class", "pct_text"]

"""Price plans: how a tenant's usage is priced, effective-dated, one model of the trade each.

A plan belongs to a tenant's contract (``order`` empty) or to one order (``order`` set; it wins
over the contract for that order's usage). The platform's **default plan** (tenant ``*``) carries
the list prices of the non-device meters (tokens, storage, egress, data). Plans of one scope
(tenant-wide, or one order) must not overlap in time: a plan change is a new plan that starts
where the old one ends, so usage across it is priced piecewise.

Kinds (see docs/billing.md for a worked example of each):

- ``payg``: per second at the plan's device-hour or 元/P/年 rate, or at the list price minus
  ``discount``; tokens, storage, egress and data at the plan's rates (optionally tiered).
- ``spot``: like payg at a discount; interruptible; never billed after an interruption.
- ``term`` (包月/包年): ``term_devices`` devices of ``term_model`` for each month (or year) at a
  discount, billed in advance (on the invoice of the month the term period starts in); usage of
  that model within ``term_devices`` x seconds is covered; more is billed at the plan's rate.
- ``commit`` (包销, take-or-pay that promises capacity): ``commit_devices`` devices of
  ``commit_model`` held for the plan, and ``commit_quantity`` price units (e.g. device-hours) of
  ``commit_meter`` per month at ``commit_price``; usage is billed at that price, the shortfall at
  period end as a true-up line.
- ``spend_commitment``: the same pricing as ``commit`` (usage at ``commit_price``, shortfall
  true-up), sold as a commitment to spend only: it holds no capacity and says so.

A **training-token plan** (``training``: true; a ``payg`` plan of one order) bills a training job
by the tokens it processed instead of its device time: the order's lease time is still shown, as
device-hours at 0 (nothing billed, and nothing drawn from packages or terms), and the
``training_tokens`` the job reports (:mod:`suanli.service.training_tokens`) are billed at the
plan's rate. The tenant sees both lines on its draft and invoice.

A plan that **holds capacity** (``term``, ``commit``) is granted with a reservation (a lease of
its devices, ``reservation``: its id) when it is created; its fee (term) or true-up (commit) is
billed only for a plan whose reservation was granted (:attr:`PricePlan.bills_capacity`), never
for capacity that does not exist, and only for the device-seconds the reservation holds
(:mod:`suanli.ledger.terms`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.money import HOURS_PER_YEAR
from suanli.errors import ValidationError
from suanli.ledger.meters import DEVICE_METERS, Meter

DEFAULT_TENANT = "*"


class PlanKind(StrEnum):
    PAYG = "payg"
    SPOT = "spot"
    TERM = "term"
    COMMIT = "commit"
    SPEND_COMMITMENT = "spend_commitment"


MAX_HELD_DEVICES = 4096
"""The most devices one plan may hold (as the most an order may ask for)."""
HOLDS_CAPACITY = frozenset({PlanKind.TERM, PlanKind.COMMIT})
"""Kinds that reserve devices for the tenant (a term, a take-or-pay that promises capacity)."""
COMMITMENTS = frozenset({PlanKind.COMMIT, PlanKind.SPEND_COMMITMENT})
"""Kinds priced as a commitment: usage at ``commit_price``, the shortfall trued up at period end."""


class Term(StrEnum):
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class Tier:
    """Graduated volume tier: price units up to ``up_to`` (cumulative in the period; None = no
    limit) cost ``price`` each."""

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class Rate:
    """A price for one meter (and, for device meters, one model or every model).

    ``unit`` is ``device_hour`` or ``p_year`` for device meters (``p_year`` converts with the
    model's P: device-hour price = price x P / 8,760), else the meter's own price unit."""

    meter: Meter
    price: Decimal
    model: str | None = None
    unit: str = ""
    tiers: tuple[Tier, ...] = ()

    def per_price_unit(self, device_p: Decimal | None) -> Decimal:
        if self.unit == "p_year":
            if device_p is None:
                raise ValidationError(f"a 元/P/年 rate needs a device model with a P figure ({self.model})")
            return self.price * device_p / HOURS_PER_YEAR
        return self.price


@dataclass(frozen=True)
class PricePlan:
    id: str
    tenant: str
    kind: PlanKind
    effective_from: datetime
    effective_to: datetime | None = None
    order: str = ""
    rates: tuple[Rate, ...] = ()
    discount: Decimal = Decimal(0)
    """Fraction off the list device price (0.2 = 20 % off) when the plan has no rate for the model."""
    term: Term | None = None
    term_model: str = ""
    term_devices: Decimal = Decimal(0)
    commit_meter: Meter | None = None
    commit_model: str = ""
    commit_quantity: Decimal = Decimal(0)
    commit_price: Decimal = Decimal(0)
    commit_devices: Decimal = Decimal(0)
    """Devices of ``commit_model`` a take-or-pay (``commit``) holds; 0 for a spend commitment."""
    reservation: str = ""
    """The lease that holds the plan's devices (``term``, ``commit``); empty: none was granted
    (a plan recorded before reservations existed), and then no fee or true-up is billed."""
    paid: bool = False
    """A paid contract: the only kind of charge a compute voucher may subsidise."""
    name: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    training: bool = False
    """A training-token plan: the order's device time shown at 0, its training tokens billed at the
    plan's ``training_tokens`` rate (see the module docstring)."""

    def covers(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)

    @property
    def held(self) -> tuple[str, int] | None:
        """(model, devices) this plan holds for its tenant, or None."""
        if self.kind is PlanKind.TERM:
            return self.term_model, int(self.term_devices)
        if self.kind is PlanKind.COMMIT:
            return self.commit_model, int(self.commit_devices)
        return None

    @property
    def bills_capacity(self) -> bool:
        """May the plan's fee (term) or true-up (commit) be billed: it holds nothing, or its
        reservation was granted."""
        return self.kind not in HOLDS_CAPACITY or bool(self.reservation)

    def rate_for(self, meter: Meter, model: str) -> Rate | None:
        best = None
        for r in self.rates:
            if r.meter is meter and r.model in (model, None):
                if r.model == model:
                    return r
                best = r
        return best


def validate_plan(plan: PricePlan) -> PricePlan:
    """Check one plan's own fields; messages say what is allowed."""
    if plan.effective_to is not None and plan.effective_to <= plan.effective_from:
        raise ValidationError("effective_to must be after effective_from", field="effective_to")
    if not Decimal(0) <= plan.discount < 1:
        raise ValidationError(f"discount must be a fraction in [0, 1), got {plan.discount}", field="discount")
    for r in plan.rates:
        if r.price < 0 or any(t.price < 0 for t in r.tiers):
            raise ValidationError(f"rate for {r.meter.value} must be >= 0", field="rates")
        if r.meter in DEVICE_METERS and r.unit not in ("device_hour", "p_year"):
            raise ValidationError(f"a {r.meter.value} rate needs unit device_hour or p_year, got {r.unit!r}",
                                  field="rates.unit", allowed=["device_hour", "p_year"])
        if r.unit == "p_year" and not r.model:
            raise ValidationError("a 元/P/年 rate must name its model", field="rates.model")
        bounds = [t.up_to for t in r.tiers]
        if r.tiers and (bounds[-1] is not None or any(b is None for b in bounds[:-1])
                        or any(a is not None and b is not None and b <= a for a, b in itertools.pairwise(bounds))):
            raise ValidationError("tiers must have increasing up_to limits and end with an open tier (up_to null)",
                                  field="rates.tiers")
    if plan.kind is PlanKind.TERM and (plan.term is None or not plan.term_model or plan.term_devices <= 0):
        raise ValidationError("a term plan needs term (month or year), term_model and term_devices > 0",
                                  field="term")
    if plan.kind in COMMITMENTS:
        if plan.commit_meter is None or plan.commit_quantity <= 0 or plan.commit_price < 0:
            raise ValidationError(f"a {plan.kind.value} plan needs commit_meter, commit_quantity > 0 and "
                                  "commit_price >= 0", field="commit_meter")
        if plan.commit_meter in DEVICE_METERS and not plan.commit_model:
            raise ValidationError("a device commitment needs commit_model", field="commit_model")
    if plan.kind is PlanKind.COMMIT and (plan.commit_meter not in DEVICE_METERS or plan.commit_devices <= 0):
        raise ValidationError("a take-or-pay (commit) promises capacity: it needs a device commit_meter, commit_model "
                              "and commit_devices > 0 (the devices it holds); a commitment that holds no capacity "
                              "is kind spend_commitment", field="commit_devices")
    held = plan.held
    if held is not None and (held[1] != (plan.term_devices if plan.kind is PlanKind.TERM else plan.commit_devices)
                             or held[1] > MAX_HELD_DEVICES):
        field = "term_devices" if plan.kind is PlanKind.TERM else "commit_devices"
        raise ValidationError(f"{field} must be a whole number of devices from 1 to {MAX_HELD_DEVICES} (the plan "
                              "reserves them)", field=field)
    if plan.kind is not PlanKind.COMMIT and plan.commit_devices != 0:
        raise ValidationError(f"commit_devices belongs to a take-or-pay (commit) plan; a {plan.kind.value} plan holds "
                              "no devices of its own" if plan.kind is not PlanKind.TERM else
                              "a term plan holds term_devices; commit_devices is for a take-or-pay (commit)",
                              field="commit_devices")
    if plan.kind is PlanKind.SPOT and plan.discount == 0 and not plan.rates:
        raise ValidationError("a spot plan needs a discount or rates", field="discount")
    if plan.training:
        if plan.kind is not PlanKind.PAYG or not plan.order:
            raise ValidationError(f"a training-token plan is a payg plan of one order (kind payg and order set); got "
                                  f"kind {plan.kind.value}{'' if plan.order else ' without an order'}",
                                  field="training")
        if not any(r.meter is Meter.TRAINING_TOKENS for r in plan.rates):
            raise ValidationError("a training-token plan needs a training_tokens rate (per million tokens)",
                                  field="rates")
        if any(r.meter in DEVICE_METERS for r in plan.rates) or plan.discount:
            raise ValidationError("a training-token plan bills no device time (it is shown at 0): leave out device "
                                  "rates and discount", field="rates")
    return plan


def check_no_overlap(new: PricePlan, existing: Iterable[PricePlan]) -> None:
    """Plans of one scope (tenant-wide, or one order) must not overlap in time."""
    for old in existing:
        if old.tenant != new.tenant or old.order != new.order or old.id == new.id:
            continue
        a_end = new.effective_to or datetime.max.replace(tzinfo=new.effective_from.tzinfo)
        b_end = old.effective_to or datetime.max.replace(tzinfo=old.effective_from.tzinfo)
        if new.effective_from < b_end and old.effective_from < a_end:
            scope = f"order {new.order}" if new.order else f"tenant {new.tenant}"
            raise ValidationError(
                f"price plan overlaps plan {old.id} ({old.kind.value}, from {old.effective_from.isoformat()} to "
                f"{old.effective_to.isoformat() if old.effective_to else 'open'}) for {scope}; end that plan "
                "first (effective_to) or start this one after it", field="effective_from", conflicts_with=old.id)


def plan_at(plans: Sequence[PricePlan], tenant: str, order: str, at: datetime) -> PricePlan | None:
    """The plan that prices a tenant's usage at ``at``: the order's plan, else the tenant's contract."""
    contract = None
    for p in plans:
        if p.tenant == tenant and p.covers(at):
            if order and p.order == order:
                return p
            if not p.order:
                contract = p
    return contract

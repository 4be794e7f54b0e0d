"""Package products (what the operator sells) and packages (what a tenant bought): pure domain objects.

A **package product** is defined by the operator: a name, a meter, a model scope (``""``: any
model) and an optional site scope (``""``: any site), a quantity per package in a unit
(``units``: the meter's price unit; ``p_hours``: device-hours x the model's P), a validity (a
number of days from the purchase, or fixed dates) and a price per package, with optional volume
tiers (``VolumeTier(min_count=10, price=X)``: buying 10 or more at once costs X each; the tier
with the largest ``min_count`` not above the count applies to every package of the purchase).

A tenant buys ``count`` packages of a product at the listed price (tier applied): it never names
a price. The operator may sell a product at another price (a discount) or a custom package; such
a sale records who sold it and why (``sold_by``, ``reason``) and the list price it departed from.
A product's price can change; that applies to purchases from then on: a bought package keeps the
price it was bought at. A retired product can no longer be bought; packages bought keep working.

Entered amounts (prices, quantities) pass :func:`suanli.domain.money.check_amount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from suanli.domain.meters import Meter
from suanli.domain.money import check_amount
from suanli.errors import ConflictError, ValidationError

MAX_COUNT = 10_000
"""The most packages one purchase may buy."""
MAX_VALID_DAYS = 3660
"""The longest validity a product may give from purchase (about ten years)."""
MAX_TIERS = 20


class PackageUnit(StrEnum):
    UNITS = "units"
    """The meter's price unit: device-hours, node-hours, million tokens, GB, GB-months."""
    P_HOURS = "p_hours"
    """Device-hours x the model's P (device_seconds only)."""


class ProductState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


def parse_unit(value: str) -> PackageUnit:
    try:
        return PackageUnit(value)
    except ValueError:
        raise ValidationError(f"package unit {value!r} not allowed; allowed: units, p_hours", field="unit") from None


def check_count(count: object) -> int:
    """How many packages one purchase buys: a whole number 1..MAX_COUNT."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValidationError(f"count must be a whole number from 1 to {MAX_COUNT}, got {count!r}", field="count")
    if not 1 <= count <= MAX_COUNT:
        raise ValidationError(f"count must be from 1 to {MAX_COUNT}, got {count}", field="count")
    return count


@dataclass(frozen=True)
class VolumeTier:
    min_count: int
    """Buying at least this many packages at once ..."""
    price: Decimal
    """... costs this much each."""


def check_tiers(tiers: tuple[VolumeTier, ...], price: Decimal) -> tuple[VolumeTier, ...]:
    """Tiers sorted by ``min_count`` (>= 2, distinct), each price > 0 and no higher than the price of a
    smaller purchase (a volume tier is a discount, never a surcharge)."""
    if len(tiers) > MAX_TIERS:
        raise ValidationError(f"at most {MAX_TIERS} volume tiers, got {len(tiers)}", field="tiers")
    out = tuple(sorted(tiers, key=lambda t: t.min_count))
    before = price
    seen: set[int] = set()
    for t in out:
        if isinstance(t.min_count, bool) or not isinstance(t.min_count, int) or not 2 <= t.min_count <= MAX_COUNT:
            raise ValidationError(f"a tier's min_count must be a whole number from 2 to {MAX_COUNT}, got "
                                  f"{t.min_count!r}", field="tiers")
        if t.min_count in seen:
            raise ValidationError(f"two tiers for min_count {t.min_count}; allowed: one price per min_count",
                                  field="tiers")
        seen.add(t.min_count)
        p = check_amount(t.price, "tiers.price")
        if p > before:
            raise ValidationError(f"the tier for >= {t.min_count} costs {p}, more than {before} for fewer; "
                                  "allowed: each tier's price <= the price before it", field="tiers")
        before = p
    return out


@dataclass(frozen=True)
class PackageProduct:
    """A package the operator sells (see the module docstring)."""

    id: str
    name: str
    meter: Meter
    quantity: Decimal
    """Per package, in ``unit``."""
    price: Decimal
    """Per package, before volume tiers."""
    unit: PackageUnit = PackageUnit.UNITS
    model: str = ""
    site: str = ""
    valid_days: int | None = None
    """Validity from the instant of purchase; or ``None`` with fixed dates."""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    tiers: tuple[VolumeTier, ...] = ()
    state: ProductState = ProductState.ACTIVE
    created_at: datetime | None = None
    created_by: str = ""
    updated_at: datetime | None = None
    """When the price (or state) last changed."""

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 120 or "/" in self.name:
            raise ValidationError("a product needs a name of 1 to 120 characters, without '/' (it names the "
                                  "product in URLs)", field="name")
        if self.meter is Meter.JOB_DEVICE_SECONDS:
            raise ValidationError("job_device_seconds is informational, never billed: no package can draw it",
                                  field="meter")
        object.__setattr__(self, "unit", parse_unit(self.unit))
        if self.unit is PackageUnit.P_HOURS and self.meter is not Meter.DEVICE_SECONDS:
            raise ValidationError("p_hours packages draw device_seconds only", field="unit")
        check_amount(self.quantity, "quantity")
        check_amount(self.price, "price")
        object.__setattr__(self, "tiers", check_tiers(self.tiers, self.price))
        fixed = self.valid_from is not None or self.valid_to is not None
        if (self.valid_days is None) == (not fixed) or (fixed and (self.valid_from is None or self.valid_to is None)):
            raise ValidationError("give the validity either as valid_days (from the purchase) or as both valid_from "
                                  "and valid_to (fixed dates)", field="valid_days")
        if self.valid_days is not None and (isinstance(self.valid_days, bool) or not isinstance(self.valid_days, int)
                                            or not 1 <= self.valid_days <= MAX_VALID_DAYS):
            raise ValidationError(f"valid_days must be a whole number from 1 to {MAX_VALID_DAYS}, got "
                                  f"{self.valid_days!r}", field="valid_days")
        if self.valid_from is not None and self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValidationError("valid_to must be after valid_from", field="valid_to")

    def unit_price(self, count: int) -> Decimal:
        """The price of each package when ``count`` are bought at once (the best tier reached)."""
        price = self.price
        for t in self.tiers:
            if count >= t.min_count:
                price = t.price
        return price

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """``[starts_at, expires_at)`` of a package bought at ``now``: ``valid_days`` from now, or the
        fixed dates (starting no earlier than now: a package never covers usage before its purchase)."""
        if self.valid_days is not None:
            return now, now + timedelta(days=self.valid_days)
        assert self.valid_from is not None and self.valid_to is not None
        if self.valid_to <= now:
            raise ConflictError(f"product {self.name!r} was valid until {self.valid_to.isoformat()}; it can no "
                                "longer be bought", product=self.id)
        return max(now, self.valid_from), self.valid_to

    def check_buyable(self) -> None:
        if self.state is ProductState.RETIRED:
            raise ConflictError(f"product {self.name!r} is retired and can no longer be bought", product=self.id)


@dataclass(frozen=True)
class Package:
    """What a tenant holds: a quantity of a meter (of a model, at a site) usable in ``[starts_at, expires_at)``."""

    id: str
    tenant: str
    meter: Meter
    quantity: Decimal
    starts_at: datetime
    expires_at: datetime
    model: str = ""
    unit: str = "units"
    price: Decimal = Decimal(0)
    """What the tenant paid for it (billed on the invoice of the month it was bought)."""
    used: Decimal = Decimal(0)
    """Drawn on issued invoices before this rating."""
    site: str = ""
    """Only usage at this site draws it (``""``: any site)."""
    product: str = ""
    """The product it was bought as (``""``: a custom package the operator sold)."""
    count: int = 1
    list_price: Decimal | None = None
    """The product's listed price for this purchase (tier applied), when the price paid departs from it
    or the package is custom (``None``: bought at the list price)."""
    sold_by: str = ""
    """The operator account that sold it at a price of its choosing (``""``: the tenant bought it)."""
    reason: str = ""
    """Why the operator sold it so (required for a discount or a custom package)."""
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValidationError(f"package quantity must be > 0, got {self.quantity}", field="quantity")
        if self.expires_at <= self.starts_at:
            raise ValidationError("package expires_at must be after starts_at", field="expires_at")
        if self.unit not in ("units", "p_hours"):
            raise ValidationError(f"package unit {self.unit!r} not allowed; allowed: units, p_hours", field="unit")
        if self.unit == "p_hours" and self.meter is not Meter.DEVICE_SECONDS:
            raise ValidationError("p_hours packages draw device_seconds only", field="unit")
        if self.price < 0:
            raise ValidationError("package price must be >= 0", field="price")

    @property
    def left(self) -> Decimal:
        return self.quantity - self.used

    def covers(self, meter: Meter, model: str, site: str, at: datetime) -> bool:
        """Whether usage of ``meter`` on ``model`` at ``site`` at instant ``at`` may draw this package."""
        return (self.meter is meter and self.model in ("", model) and self.site in ("", site)
                and self.starts_at <= at < self.expires_at)

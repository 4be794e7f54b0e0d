"""Prepaid packages: bundles of device-hours, P-hours or tokens that draw down, with expiry.

A package covers usage of its meter (and model, if named) whose time lies in
``[starts_at, expires_at)``. Draws go in a fixed order (earliest expiry first, then id) and in
time order of the usage, so re-rating the same usage draws the same amounts. ``unit``:
``units`` counts the meter's price unit (device-hours, million tokens, GB); ``p_hours`` counts
device-hours x the model's P.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.errors import ValidationError
from suanli.ledger.meters import Meter


@dataclass(frozen=True)
class Package:
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


class Drawdown:
    """Remaining quantity of each package while one invoice is rated (mutable, local to a rating)."""

    def __init__(self, packages: list[Package]) -> None:
        self.packages = sorted(packages, key=lambda p: (p.expires_at, p.id))
        self.start = {p.id: p.quantity - p.used for p in self.packages}
        self.left = dict(self.start)

    @property
    def drawn(self) -> dict[str, Decimal]:
        """Drawn in this rating: what was left before minus what is left now (never more than was left)."""
        return {k: self.start[k] - v for k, v in self.left.items()}

    def draw(self, meter: Meter, model: str, at: datetime, units: Decimal, device_p: Decimal | None
             ) -> list[tuple[str, Decimal]]:
        """Cover up to ``units`` (meter price units) at ``at``; returns (package id, units covered)."""
        out: list[tuple[str, Decimal]] = []
        need = units
        for p in self.packages:
            if need <= 0:
                break
            if p.meter is not meter or (p.model and p.model != model) or not p.starts_at <= at < p.expires_at:
                continue
            left = self.left[p.id]
            if left <= 0:
                continue
            factor = device_p if p.unit == "p_hours" and device_p is not None else Decimal(1)
            if need * factor >= left:  # the package runs out here: draw exactly what is left
                take_units, taken = left / factor, left
            else:
                take_units, taken = need, need * factor
            self.left[p.id] = left - taken
            need -= take_units
            out.append((p.id, take_units))
        return out

"""Prepaid packages: bundles of device-hours, P-hours or tokens that draw down, with expiry.

A package (:class:`suanli.domain.packages.Package`) covers usage of its meter, of its model (if
it names one) and at its site (if it names one), whose time lies in ``[starts_at, expires_at)``.
Draws go in a fixed order (earliest expiry first, then id) and in time order of the usage, so
re-rating the same usage draws the same amounts. ``unit``: ``units`` counts the meter's price unit
(device-hours, million tokens, GB); ``p_hours`` counts device-hours x the model's P.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from suanli.domain.packages import Package as Package  # re-exported: the type lives in the domain
from suanli.ledger.meters import Meter


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

    def draw(self, meter: Meter, model: str, at: datetime, units: Decimal, device_p: Decimal | None,
             site: str = "") -> list[tuple[str, Decimal]]:
        """Cover up to ``units`` (meter price units) of usage on ``model`` at ``site`` at instant ``at``;
        returns (package id, units covered). A package scoped to a site covers usage at that site only
        (usage with no site is covered by unscoped packages only)."""
        out: list[tuple[str, Decimal]] = []
        need = units
        for p in self.packages:
            if need <= 0:
                break
            if not p.covers(meter, model, site, at):
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

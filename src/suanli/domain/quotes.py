"""A lease's price quote as stored and shown: which leases are bound by it, and the quoted rate.

The rules (how a quote is made, what it binds, how an extension is quoted) are in
:mod:`suanli.ledger.quotes`; these are the plain values the store keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from suanli.domain.money import HOURS_PER_YEAR

RATE_PLACES = Decimal("1e-12")
"""A quoted rate keeps 12 decimal places (PostgreSQL NUMERIC(38, 12)); that figure is billed."""


class Pricing(StrEnum):
    QUOTED = "quoted"
    """Billed at the quote it was granted with (fixed term or reservation)."""
    LIST = "list"
    """Follows the list price and the plan in force at each second (open-ended)."""


class Basis(StrEnum):
    """Where a quoted rate comes from."""

    PLAN_RATE = "plan_rate"
    COMMIT_PRICE = "commit_price"
    LIST = "list"
    """The list price minus the plan's discount (0 without a plan)."""
    RESOURCE = "resource"
    """SHAPES: host resources beyond the devices' share at the resource list price (docs/billing.md
    "Resource prices"); the line's model is the price unit (cpu_core_hour …), devices the units held."""
    BURSTABLE = "burstable"
    """OVERSUB: a burstable slice at the list price; its device count is the sold share less the burstable
    discount (docs/slices.md "Oversubscription"). Shown only: the stored rate's basis stays ``list``."""
    MIGRATABLE = "migratable"
    """DEFRAG: a migratable lease at the list price; its device count is the share less the migratable
    discount (docs/defrag.md). Shown only: the stored rate's basis stays ``list``."""


def q12(d: Decimal) -> Decimal:
    return d.quantize(RATE_PLACES, ROUND_HALF_UP).normalize()


def binds(start: datetime, end: datetime | None, now: datetime) -> bool:
    """Does a lease over [start, end) ordered at ``now`` keep its quote: a fixed term or a reservation."""
    return end is not None or start > now


@dataclass(frozen=True)
class QuotedRate:
    """The rate of one (model, site) of a lease from ``valid_from`` on."""

    model: str
    site: str
    valid_from: datetime
    device_hour: Decimal
    """Per device-hour, 12 places: what rating charges a quoted lease."""
    list_device_hour: Decimal | None
    """The list price per device-hour in force at the quote (none if the model had none)."""
    plan: str
    """The tenant's plan in force at the quote ('' for none)."""
    basis: Basis
    quoted_at: datetime

    def p_year(self, device_p: Decimal | None) -> Decimal | None:
        """The same rate per P-year (元/P/年), 12 places; none for a model without a P figure."""
        if not device_p:
            return None
        return q12(self.device_hour * HOURS_PER_YEAR / device_p)

"""The operator's overview: the figures of the start page, as plain values (pure; no I/O).

Every figure is a :class:`Trend`: the value now and the value it is compared with (24 hours
earlier, or last month over the same number of days), so a page or a script shows the direction
without recomputing anything. Fractions are decimals in [0, 1]; money is in the operator's
currency, rounded once to its minor unit by the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.leases import Allocation, ProductForm


@dataclass(frozen=True)
class LeaseHold:
    """One allocation window of a lease, with the lease's tenant and commission (for rating)."""

    lease_id: str
    tenant_id: str
    form: ProductForm
    commission_rate: Decimal
    allocation: Allocation


@dataclass(frozen=True)
class Trend:
    """A figure now and the figure it is compared with (``None``: not known, e.g. no telemetry)."""

    now: Decimal | None
    before: Decimal | None

    @property
    def delta(self) -> Decimal | None:
        """now − before, when both are known."""
        return None if self.now is None or self.before is None else self.now - self.before


@dataclass(frozen=True)
class Counts:
    """What needs a look, now; each links to a filtered list in the console."""

    idle_whole_gpus: int
    """Devices on available nodes that nothing holds."""
    fragmented_gpus: int
    """Devices on available nodes partly held (0 < held < 1 device): their free part fits only slices."""
    down_nodes: int
    maintenance_nodes: int
    suspended_leases: int
    interrupted_leases: int
    unpaid_invoices: int
    """Issued invoices not paid yet."""
    low_runway_tenants: int
    """Prepaid tenants whose runway (balance ÷ burn) is below their warning threshold, or suspended."""


@dataclass(frozen=True)
class Idle:
    """Idle capacity now, in device-equivalents (the capacity series' split)."""

    fragmented: Decimal
    """Free capacity the typical requests cannot use (FGD against the live mix)."""
    unrented: Decimal
    """Free capacity the typical requests can use (unrented whole capacity)."""
    down: Decimal
    """Devices on nodes down or in maintenance."""


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    currency: str
    devices: int
    """Devices on available nodes (the denominator of the allocation and lease rates)."""
    allocation: Trend
    """Allocated device-equivalents ÷ devices on available nodes: now vs 24 h earlier."""
    utilisation: Trend
    """Measured busy share of rented devices where telemetry exists (else None)."""
    lease_rate: Trend
    """Rented device-hours ÷ available device-hours: the last 24 h vs the 24 h before."""
    revenue_mtd: Trend
    """Lease charges this month to date vs last month over the same number of days."""
    commission_mtd: Trend
    """The operator's commission on those charges (the part not paid out to suppliers)."""
    run_rate: Trend
    """Charges per hour of the leases held now vs 24 h earlier."""
    energy_cost_today: Decimal | None
    """Power cost from midnight in the operator's time zone (sampled time; None: nothing sampled)."""
    energy_cost_mtd: Decimal | None
    power_cost_per_hour: Decimal | None
    """Facility power now × the sites' power prices."""
    idle: Idle
    margin_mtd: Trend
    """Gross margin: commission − energy cost (commission alone while energy is not known)."""
    counts: Counts
    low_runway: tuple[str, ...]
    """Names of the low-runway tenants (the console links to them)."""
    sources: dict[str, str]
    """Where each figure comes from, in words (shown as the tile's note)."""

"""Custom shapes: host resources (CPU cores, RAM, NIC bandwidth, local disk) a lease holds on a node,
and the list prices of what it holds beyond its devices' proportional share.

Rules (docs/orders.md "Custom shapes"):

- An order of form ``gpu``, ``slice`` or ``flops`` may ask for ``cpu_cores``, ``ram_gib``,
  ``nic_gbps`` and ``disk_gib``. On each node it lands on, the lease **holds** ``max(asked,
  proportional share)`` of each resource; the proportional share of a node's resource is
  ``floor(node total × device milli held on the node ÷ (devices on the node × 1000))``. For
  ``flops`` the amounts are per node the lease lands on.
- ``cpu``: a CPU-only instance (no device) holds exactly what it asks; ``cpu_cores`` and ``ram_gib``
  are required (≥ 1), ``nic_gbps`` and ``disk_gib`` optional (0 when absent).
- ``server`` and ``cluster`` hold their whole nodes: asking for host resources there is refused.
- **Extras** = held − proportional share (all of it for ``cpu``); only extras are billed, per second,
  at the resource list prices (:class:`ResourceKind`). The device price covers the share.
- Units held in the database: CPU in milli-cores, RAM in MiB, NIC in Mbps, disk in GiB. A node's
  local disk is registered in GB (10^9 bytes): its capacity in GiB is ``floor(GB × 10^9 ÷ 2^30)``.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from suanli.domain.money import HOURS_PER_YEAR
from suanli.errors import ValidationError

MILLI = 1000
SHAPE_FIELDS = ("cpu_cores", "ram_gib", "nic_gbps", "disk_gib")
"""The order fields of a custom shape."""
LIMITS = {"cpu_cores": 4096, "ram_gib": 65536, "nic_gbps": 10000, "disk_gib": 1_000_000}
"""Sanity bounds of each field (far beyond any node; the fleet's real maxima are checked at placement)."""


class ResourceKind(StrEnum):
    """A host resource's list-price unit."""

    CPU_CORE_HOUR = "cpu_core_hour"
    RAM_GIB_HOUR = "ram_gib_hour"
    NIC_GBPS_HOUR = "nic_gbps_hour"
    DISK_GIB_MONTH = "disk_gib_month"


HOURS_PER_MONTH = HOURS_PER_YEAR / 12
"""A billing month for ``disk_gib_month``: 730 hours (8,760 ÷ 12), whatever the calendar month."""

UNIT_LABEL = {ResourceKind.CPU_CORE_HOUR: "core-hour", ResourceKind.RAM_GIB_HOUR: "GiB-hour",
              ResourceKind.NIC_GBPS_HOUR: "Gbps-hour", ResourceKind.DISK_GIB_MONTH: "GiB-month"}


def parse_kind(value: object) -> ResourceKind:
    try:
        return ResourceKind(str(value))
    except ValueError:
        allowed = ", ".join(k.value for k in ResourceKind)
        raise ValidationError(f"resource {value!r} is not priced; allowed: {allowed}", field="resource") from None


@dataclass(frozen=True)
class Shape:
    """What an order asks of its nodes' host resources (0 = not asked: the proportional share)."""

    cpu_cores: int = 0
    ram_gib: int = 0
    nic_gbps: int = 0
    disk_gib: int = 0

    @property
    def asked(self) -> bool:
        return any((self.cpu_cores, self.ram_gib, self.nic_gbps, self.disk_gib))

    def as_dict(self) -> dict[str, int]:
        return {k: v for k in SHAPE_FIELDS if (v := getattr(self, k))}


def parse_shape(raw: Mapping[str, Any], form: str) -> Shape:
    """Validate the shape fields of an order of ``form`` (the value of a ``ProductForm``)."""
    values: dict[str, int] = {}
    for key in SHAPE_FIELDS:
        v = raw.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValidationError(f"{key} must be a whole number, got {v!r}", field=key)
        if v < 1 or v > LIMITS[key]:
            raise ValidationError(f"{key} must be between 1 and {LIMITS[key]}, got {v}", field=key,
                                  minimum=1, maximum=LIMITS[key])
        values[key] = v
    if form in ("server", "cluster") and values:
        raise ValidationError(f"a {form} holds its whole nodes (every core, all memory, NIC and disk); "
                              f"{', '.join(sorted(values))} may be given for gpu, slice, flops and cpu orders",
                              field=sorted(values)[0])
    if form == "cpu":
        for key in ("cpu_cores", "ram_gib"):
            if key not in values:
                raise ValidationError(f"a cpu order (a CPU-only instance) needs {key} >= 1", field=key)
    return Shape(**values)


@dataclass(frozen=True)
class NodeCapacity:
    """A node's host resources in the database's units."""

    cpu_milli: int
    ram_mib: int
    nic_mbps: int
    disk_gib: int

    @classmethod
    def of(cls, cpu_cores: int, memory_gib: int, nic_gbps: int, disk_gb: int) -> NodeCapacity:
        return cls(cpu_cores * MILLI, memory_gib * 1024, nic_gbps * 1000, disk_gb * 10**9 // 2**30)


@dataclass(frozen=True)
class Amounts:
    cpu_milli: int = 0
    ram_mib: int = 0
    nic_mbps: int = 0
    disk_gib: int = 0

    def minus(self, other: Amounts) -> Amounts:
        return Amounts(max(0, self.cpu_milli - other.cpu_milli), max(0, self.ram_mib - other.ram_mib),
                       max(0, self.nic_mbps - other.nic_mbps), max(0, self.disk_gib - other.disk_gib))

    @property
    def any(self) -> bool:
        return any((self.cpu_milli, self.ram_mib, self.nic_mbps, self.disk_gib))


def share_of(cap: NodeCapacity, n_devices: int, milli: int) -> Amounts:
    """The proportional share of a node's host resources that ``milli`` of its devices carry."""
    if n_devices <= 0 or milli <= 0:
        return Amounts()
    whole = n_devices * MILLI
    return Amounts(cap.cpu_milli * milli // whole, cap.ram_mib * milli // whole, cap.nic_mbps * milli // whole,
                   cap.disk_gib * milli // whole)


def asked_amounts(shape: Shape) -> Amounts:
    return Amounts(shape.cpu_cores * MILLI, shape.ram_gib * 1024, shape.nic_gbps * 1000, shape.disk_gib)


@dataclass(frozen=True)
class Hold:
    """What a lease holds on one node: ``held`` (counted against the node's capacity by the
    database) and ``extra`` (the part above the proportional share: billed at resource prices)."""

    node_id: int
    held: Amounts
    extra: Amounts


def hold_for(node_id: int, cap: NodeCapacity, n_devices: int, milli: int, shape: Shape, *, cpu_only: bool,
             whole_node: bool) -> Hold:
    """The hold of a lease taking ``milli`` of the node's devices with ``shape`` (see the module rules)."""
    if whole_node:
        full = Amounts(cap.cpu_milli, cap.ram_mib, cap.nic_mbps, cap.disk_gib)
        return Hold(node_id, full, Amounts())
    asked = asked_amounts(shape)
    if cpu_only:
        return Hold(node_id, asked, asked)
    share = share_of(cap, n_devices, milli)
    held = Amounts(max(share.cpu_milli, asked.cpu_milli), max(share.ram_mib, asked.ram_mib),
                   max(share.nic_mbps, asked.nic_mbps), max(share.disk_gib, asked.disk_gib))
    return Hold(node_id, held, held.minus(share))


@dataclass(frozen=True)
class ResourcePrice:
    """A resource's list price from ``effective_from`` on, at ``site`` (None: every site; a site's own
    price in force wins over it)."""

    resource: ResourceKind
    site: str | None
    amount: Decimal
    currency: str
    effective_from: datetime


@dataclass(frozen=True)
class HoldSpan:
    """One stored hold of a lease on a node over [start, end) (end None: open), for rating and showing."""

    lease_id: str
    node: str
    site: str
    supplier: str
    held: Amounts
    extra: Amounts
    start: datetime
    end: datetime | None


def extra_units(extra: Amounts) -> dict[ResourceKind, Decimal]:
    """The extras in their price units' quantities per hour held (disk: GiB, priced per month)."""
    return {k: v for k, v in ((ResourceKind.CPU_CORE_HOUR, Decimal(extra.cpu_milli) / MILLI),
                              (ResourceKind.RAM_GIB_HOUR, Decimal(extra.ram_mib) / 1024),
                              (ResourceKind.NIC_GBPS_HOUR, Decimal(extra.nic_mbps) / 1000),
                              (ResourceKind.DISK_GIB_MONTH, Decimal(extra.disk_gib))) if v}


def quantity(kind: ResourceKind, amount: Decimal, seconds: Decimal) -> Decimal:
    """``amount`` held for ``seconds`` in the kind's price unit (core-hours …, GiB-months for disk)."""
    hours = seconds / Decimal(3600)
    return amount * hours / HOURS_PER_MONTH if kind is ResourceKind.DISK_GIB_MONTH else amount * hours


__all__ = [
    "LIMITS",
    "SHAPE_FIELDS",
    "Amounts",
    "Hold",
    "HoldSpan",
    "NodeCapacity",
    "ResourceKind",
    "ResourcePrice",
    "Shape",
    "asked_amounts",
    "extra_units",
    "hold_for",
    "parse_kind",
    "parse_shape",
    "quantity",
    "share_of",
]

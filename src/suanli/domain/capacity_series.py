"""The capacity and energy time series: what one sample of one node holds, and the figures read from them.

A :class:`NodeSpan` is one node over one span of time ``[start, start + seconds)``: integrals in
*device-seconds* (Decimal, exact) of what the node's devices were doing, and the energy it drew.
Spans add up (:func:`combine`): an hour's span of a node is the sum of its raw spans, a day's the sum
of its hours, a site's the sum of its nodes. Figures are ratios and means of those sums
(:func:`figures`), so downsampling loses no total, only the detail of the points.

Integrals of a node over a span (device-seconds; ``d`` = devices of the node, ``T`` = seconds):

- ``available``: ``d·T`` when the node was available at the sample, else 0; ``down``: ``d·T``
  otherwise (down or maintenance);
- ``rented``: Σ over the allocation rows of leases on the node (not drawn on a reservation) of
  ``milli/1000 × overlap with the span`` — exact, from the records of granted time;
- ``allocated``: the allocated device-equivalents *at the sample instant* × ``T`` (what a snapshot
  saw: the allocation rate is an instantaneous figure; the lease rate is the exact one);
- ``fragmented`` / ``unrented``: the idle device-equivalents at the sample instant × ``T``, split by
  FGD's measure against the live mix of typical requests (fragmented: idle milli that the typical
  requests cannot use; unrented whole: the rest of the idle capacity);
- ``busy`` / ``measured``: measured utilisation × devices with a reading × ``T``, and devices with a
  reading × ``T`` (``measured`` 0: no telemetry, utilisation unknown: never invented);
- energy: ``it_kwh`` (measured power where telemetry reports it, else :func:`modelled_power_w`),
  of which ``measured_kwh`` measured; ``facility_kwh = it_kwh × PUE`` of the node's site and
  ``power_cost = facility_kwh × power_price_kwh`` of the site, both at the time of the sample.

Figures (:class:`CapacityFigures`), for any group of spans:

- allocation rate (分配率) = allocated ÷ available; lease rate (出租率) = rented ÷ available;
  utilisation = busy ÷ measured (``None`` without a reading);
- mean device-equivalents over the observed seconds: available, down, allocated, rented,
  fragmented, unrented whole;
- energy sums.

Rounding happens once, here, when figures are made (:data:`RATE_PLACES` for rates,
:data:`DEVICE_PLACES` for device-equivalents and hours, :data:`KWH_PLACES` for energy, cents for
money, ROUND_HALF_EVEN); sums are kept exact until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

ZERO = Decimal(0)
RATE_PLACES = Decimal("0.0001")
DEVICE_PLACES = Decimal("0.001")
KWH_PLACES = Decimal("0.001")
MONEY_PLACES = Decimal("0.01")

IDLE_POWER_SHARE = Decimal("0.3")
"""Share of TDP an accelerator draws idle (switched on, no work). See :func:`modelled_power_w`."""


class Resolution(StrEnum):
    """How much time one stored row covers: a raw sample's span, an hour, a day (UTC)."""

    RAW = "raw"
    HOUR = "hour"
    DAY = "day"


class GroupBy(StrEnum):
    NONE = "none"
    SITE = "site"
    MODEL = "model"
    SUPPLIER = "supplier"
    NODE = "node"


RETENTION: dict[Resolution, timedelta | None] = {
    Resolution.RAW: timedelta(hours=48),
    Resolution.HOUR: timedelta(days=90),
    Resolution.DAY: None,
}
"""How long rows of each resolution are kept (None: forever). Rows older than this are deleted by the
background pass once the next coarser rows covering them exist."""


def bucket_start(t: datetime, resolution: Resolution) -> datetime:
    """The start of the hour or UTC day that holds ``t`` (``t`` itself for raw)."""
    t = t.astimezone(UTC)
    if resolution is Resolution.HOUR:
        return t.replace(minute=0, second=0, microsecond=0)
    if resolution is Resolution.DAY:
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return t


def bucket_length(resolution: Resolution) -> timedelta:
    return timedelta(hours=1) if resolution is Resolution.HOUR else timedelta(days=1)


RAW_AUTO = timedelta(hours=3)
"""The longest period for which the default step is ``raw`` (one point per sample)."""


def auto_step(start: datetime, now: datetime, end: datetime | None = None) -> Resolution:
    """The default step: raw for a period of at most :data:`RAW_AUTO` within the raw rows' retention,
    else hour while the hour rows are kept, else day."""
    raw_keep, hour_keep = RETENTION[Resolution.RAW], RETENTION[Resolution.HOUR]
    if raw_keep is not None and start >= now - raw_keep and (end or now) - start <= RAW_AUTO:
        return Resolution.RAW
    if hour_keep is not None and start >= now - hour_keep:
        return Resolution.HOUR
    return Resolution.DAY


def modelled_power_w(tdp_watts: int | Decimal, devices: int | Decimal, busy_devices: Decimal,
                     idle_share: Decimal = IDLE_POWER_SHARE) -> Decimal:
    """Electric power (W) of ``devices`` accelerators of one model when nothing measures it:
    ``P = TDP × (idle_share × devices + (1 − idle_share) × busy_devices)``, i.e. per device
    ``TDP × (idle_share + (1 − idle_share) × u)`` summed, with ``u`` the device's measured
    utilisation or, without a reading, its allocated share (0..1). The linear power model of
    Fan, Weber and Barroso, "Power provisioning for a warehouse-sized computer" (ISCA 2007);
    ``idle_share`` see docs/capacity.md."""
    tdp = Decimal(tdp_watts)
    return tdp * (idle_share * Decimal(devices) + (1 - idle_share) * busy_devices)


def kwh(power_w: Decimal, seconds: Decimal) -> Decimal:
    """Energy of ``power_w`` watts held for ``seconds``: W × s ÷ 3.6e6."""
    return power_w * seconds / Decimal(3_600_000)


@dataclass(frozen=True)
class NodeSpan:
    """One node over ``[start, start + seconds)``: the integrals of the module docstring."""

    resolution: Resolution
    start: datetime
    seconds: Decimal
    node: str
    site: str
    model: str
    supplier: str
    devices: int
    state: str
    """The node's state at the (last) sample of the span."""
    available: Decimal = ZERO
    down: Decimal = ZERO
    allocated: Decimal = ZERO
    rented: Decimal = ZERO
    fragmented: Decimal = ZERO
    unrented: Decimal = ZERO
    busy: Decimal = ZERO
    measured: Decimal = ZERO
    it_kwh: Decimal = ZERO
    measured_kwh: Decimal = ZERO
    facility_kwh: Decimal = ZERO
    power_cost: Decimal = ZERO

    def group(self, by: GroupBy) -> str:
        return "total" if by is GroupBy.NONE else str(getattr(self, by.value))


SUMMED = ("seconds", "available", "down", "allocated", "rented", "fragmented", "unrented", "busy", "measured",
          "it_kwh", "measured_kwh", "facility_kwh", "power_cost")
"""The fields of :class:`NodeSpan` that add up when spans of one node are combined."""


def combine(spans: Iterable[NodeSpan], resolution: Resolution, start: datetime) -> NodeSpan:
    """The spans of ONE node as one span of ``resolution`` starting at ``start`` (sums; labels and
    state from the latest span)."""
    ordered = sorted(spans, key=lambda x: x.start)
    if not ordered:
        raise ValueError("combine needs at least one span")
    last = ordered[-1]
    sums: dict[str, Any] = {f: sum((getattr(x, f) for x in ordered), ZERO) for f in SUMMED}
    return replace(last, resolution=resolution, start=start, **sums)


@dataclass(frozen=True)
class CapacityFigures:
    """Figures of a group of nodes over a period (or one point of a series). Final: every field."""

    observed_seconds: Decimal
    """Seconds of the period covered by samples (a sum over the distinct spans of the group)."""
    devices: Decimal
    """Mean devices (available + down) over the observed seconds."""
    available: Decimal
    """Mean device-equivalents on available nodes."""
    down: Decimal
    """Mean devices on nodes down or in maintenance."""
    allocated: Decimal
    """Mean allocated device-equivalents (from the samples' instants)."""
    rented: Decimal
    """Mean rented device-equivalents (exact, from the allocation records)."""
    fragmented: Decimal
    """Mean idle device-equivalents the typical requests cannot use (FGD)."""
    unrented: Decimal
    """Mean idle device-equivalents the typical requests can use (unrented whole capacity)."""
    available_device_hours: Decimal
    rented_device_hours: Decimal
    allocation_rate: Decimal | None
    """allocated ÷ available (None: nothing available)."""
    lease_rate: Decimal | None
    """rented device-hours ÷ available device-hours (None: nothing available)."""
    utilisation: Decimal | None
    """measured busy share of devices with telemetry (None: no reading in the period)."""
    it_kwh: Decimal
    measured_kwh: Decimal
    """The part of ``it_kwh`` measured by telemetry (the rest is modelled from TDP)."""
    facility_kwh: Decimal
    power_cost: Decimal


def _q(x: Decimal, places: Decimal) -> Decimal:
    return x.quantize(places, rounding=ROUND_HALF_EVEN)


class Tally:
    """Running sums of spans (each :data:`SUMMED` field) and the group's wall time (each distinct span
    once: a group's nodes share their sample spans). Tallies merge, so a report sums every row once
    per point and builds the groups' and the total's figures from the points'."""

    __slots__ = ("sums", "walls")

    def __init__(self) -> None:
        self.sums: list[Decimal] = [ZERO] * len(SUMMED)
        self.walls: dict[tuple[Resolution, datetime], Decimal] = {}

    def add(self, x: NodeSpan) -> None:
        sums = self.sums
        for i, f in enumerate(SUMMED):
            sums[i] += getattr(x, f)
        key = (x.resolution, x.start)
        if x.seconds > self.walls.get(key, ZERO):
            self.walls[key] = x.seconds

    def merge(self, other: Tally) -> None:
        self.sums = [a + b for a, b in zip(self.sums, other.sums, strict=True)]
        for key, sec in other.walls.items():
            if sec > self.walls.get(key, ZERO):
                self.walls[key] = sec

    @classmethod
    def of(cls, spans: Iterable[NodeSpan]) -> Tally:
        t = cls()
        for x in spans:
            t.add(x)
        return t

    def figures(self) -> CapacityFigures:
        s = dict(zip(SUMMED, self.sums, strict=True))
        wall = sum(self.walls.values(), ZERO)

        def mean(v: Decimal) -> Decimal:
            return _q(v / wall, DEVICE_PLACES) if wall else ZERO

        def rate(num: Decimal, den: Decimal) -> Decimal | None:
            return _q(num / den, RATE_PLACES) if den else None

        hour = Decimal(3600)
        return CapacityFigures(
            observed_seconds=wall, devices=mean(s["available"] + s["down"]), available=mean(s["available"]),
            down=mean(s["down"]), allocated=mean(s["allocated"]), rented=mean(s["rented"]),
            fragmented=mean(s["fragmented"]), unrented=mean(s["unrented"]),
            available_device_hours=_q(s["available"] / hour, DEVICE_PLACES),
            rented_device_hours=_q(s["rented"] / hour, DEVICE_PLACES),
            allocation_rate=rate(s["allocated"], s["available"]), lease_rate=rate(s["rented"], s["available"]),
            utilisation=rate(s["busy"], s["measured"]),
            it_kwh=_q(s["it_kwh"], KWH_PLACES), measured_kwh=_q(s["measured_kwh"], KWH_PLACES),
            facility_kwh=_q(s["facility_kwh"], KWH_PLACES), power_cost=_q(s["power_cost"], MONEY_PLACES))


def figures(spans: Iterable[NodeSpan]) -> CapacityFigures:
    """The figures of any spans (of one or many nodes, one or many resolutions)."""
    return Tally.of(spans).figures()


@dataclass(frozen=True)
class CapacityPoint:
    """One point of a series: the figures of one group over ``[at, at + seconds)``."""

    at: datetime
    group: str
    figures: CapacityFigures


@dataclass(frozen=True)
class CapacityGroup:
    """A group's figures over the whole period. ``key`` is the site, model, supplier or node name
    (``total`` for by=none)."""

    key: str
    figures: CapacityFigures


@dataclass(frozen=True)
class CapacityReport:
    """``capacity.report``'s answer: per group totals over [start, end), the whole fleet's, and the
    series (one point per step and group, ordered by time then group)."""

    start: datetime
    end: datetime
    by: GroupBy
    step: Resolution
    currency: str
    total: CapacityFigures
    groups: list[CapacityGroup] = field(default_factory=list)
    points: list[CapacityPoint] = field(default_factory=list)


def extent(span: NodeSpan) -> timedelta:
    """The time a row stands for: a raw span its seconds, an hour or day row its whole bucket (its
    ``seconds`` are the sampled seconds inside it)."""
    if span.resolution is Resolution.RAW:
        return timedelta(seconds=float(span.seconds))
    return bucket_length(span.resolution)


def clip(span: NodeSpan, start: datetime, end: datetime) -> NodeSpan | None:
    """The part of ``span`` inside [start, end), its integrals prorated linearly over its
    :func:`extent` (None: no overlap). The report replaces an hour or day row cut by the period's
    edge by the finer rows of its bucket while they are kept, so proration applies to raw spans
    (one sampling interval at most) and to rows whose finer rows are gone."""
    s_end = span.start + extent(span)
    lo, hi = max(span.start, start), min(s_end, end)
    if hi <= lo:
        return None
    if lo == span.start and hi == s_end:
        return span
    us = timedelta(microseconds=1)
    share = Decimal((hi - lo) // us) / Decimal((s_end - span.start) // us)
    values = {f: getattr(span, f) * share for f in SUMMED}
    return replace(span, start=lo, **values)


def span_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(NodeSpan))

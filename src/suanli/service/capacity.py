"""Capacity and energy: the time series the background pass samples, and the reports read from it.

What is computed exactly and what is sampled (docs/capacity.md, "What is sampled"):

- **rented** device-seconds are exact: each sample integrates the allocation records (granted time,
  :class:`suanli.store.tables.AllocationRow`) over its span, so the lease rate of any period is exact
  to the sample spans it covers, whatever the sampling interval;
- what no record keeps is **sampled** at the sample instant and held over the span: node states
  (down / maintenance: nodes keep no state history), fragmentation (FGD against the live mix of
  typical requests *of that time*, :mod:`suanli.service.typical_mix`), the allocated share at the
  instant, measured utilisation and power (telemetry of this node, NVML, and of agent nodes: the
  latest sample each agent reported, if taken within ``agent_down_s``; see :func:`with_agents`).

API for other parts (in process; every figure below is final):

- :func:`report` ``(p, actor, start, end, by, step)`` -> :class:`~suanli.domain.capacity_series.CapacityReport`
  (per-group totals, fleet total, series points);
- :func:`now` ``(p, actor, by)`` -> :class:`CapacityNow` (the figures of this instant, computed
  live, read-only: nothing is written);
- :func:`sample` ``(p)``: the background pass's part (the leader only: it runs inside
  :func:`suanli.service.reconcile.run_pass`, fenced).

Reads never write: :func:`report` and :func:`now` open read transactions only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import numpy as np
from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.capacity_series import (
    RETENTION,
    ZERO,
    CapacityFigures,
    CapacityGroup,
    CapacityPoint,
    CapacityReport,
    GroupBy,
    NodeSpan,
    Resolution,
    Tally,
    auto_step,
    bucket_length,
    bucket_start,
    clip,
    combine,
    extent,
    figures,
    kwh,
    modelled_power_w,
)
from suanli.domain.clock import parse_instant
from suanli.domain.fleet import NodeState
from suanli.drivers.telemetry import DeviceSample, TelemetryReader
from suanli.errors import ValidationError
from suanli.scheduler import FleetState
from suanli.scheduler.frag import FragModel
from suanli.service.metrics import telemetry
from suanli.service.platform import Platform
from suanli.service.typical_mix import current_mix
from suanli.store import agent_readings
from suanli.store import capacity_series as store
from suanli.store import fleet as fleet_store

log = logging.getLogger("suanli.capacity")

MAX_GAP_INTERVALS = 10
"""A sample covers at most this many sampling intervals back: after a longer gap (the server was
stopped) the time between is left unobserved rather than attributed to the states seen now."""
MAX_PERIOD = timedelta(days=3660)
"""The longest period a report covers."""
MAX_RAW_PERIOD = timedelta(hours=12)
"""The longest period a report with ``step=raw`` covers (its points are the samples)."""

E = TypeVar("E", GroupBy, Resolution)
_ORDER = (Resolution.RAW, Resolution.HOUR, Resolution.DAY)


# ------------------------------------------------------------------------------------------ measure


def _seconds(a: datetime, b: datetime) -> Decimal:
    return Decimal((b - a) // timedelta(microseconds=1)) / Decimal(1_000_000)


def measure(p: Platform, s: Session, start: datetime, now: datetime, samples: list[DeviceSample],
            resolution: Resolution = Resolution.RAW) -> list[NodeSpan]:
    """One raw span per node over [start, now): the integrals of :mod:`suanli.domain.capacity_series`
    (rented exact from the allocation records; the rest from the state at ``now``). Reads only."""
    seconds = _seconds(start, now)
    devices = store.devices(s)
    if not devices:
        return []
    samples = with_agents(s, samples, now - timedelta(seconds=p.settings.agent_down_s))
    sites = {x.name: x for x in fleet_store.list_sites(s)}
    cat = p.catalog(s)
    wins = store.windows(s, start, now)
    rented: dict[str, Decimal] = defaultdict(lambda: ZERO)
    held_now: dict[tuple[str, int], int] = defaultdict(int)
    for w in wins:
        lo, hi = max(w.start, start), now if w.end is None else min(w.end, now)
        if hi > lo:
            rented[w.node] += Decimal(w.milli) / 1000 * _seconds(lo, hi)
        if w.start <= now and (w.end is None or w.end > now):
            held_now[(w.node, w.slot)] += w.milli
    by_node: dict[str, list[store.Device]] = {}
    for d in devices:
        by_node.setdefault(d.node, []).append(d)
    names = list(by_node)
    width = max(len(v) for v in by_node.values())
    models = cat.names()
    mcode = {m: i for i, m in enumerate(models)}
    dev_model = np.full((len(names), width), -1, np.int16)
    dev_free = np.zeros((len(names), width), np.int32)
    cpu_total = np.zeros(len(names), np.int64)
    cpu_free = np.zeros(len(names), np.int64)
    for i, n in enumerate(names):
        devs = by_node[n]
        up = devs[0].node_state == NodeState.AVAILABLE.value
        cpu_total[i] = devs[0].cpu_cores * 1000
        free_sum = 0
        for d in devs:
            dev_model[i, d.slot] = mcode.get(d.model, -1)
            free = max(0, 1000 - held_now[(n, d.slot)]) if up else 0
            dev_free[i, d.slot] = free
            free_sum += free
        cpu_free[i] = cpu_total[i] * free_sum // (len(devs) * 1000)
    state = FleetState(node_ids=names, cpu_total_milli=cpu_total, cpu_free_milli=cpu_free,
                       mem_free_mib=np.full(len(names), 1 << 40, np.int64), dev_model=dev_model,
                       dev_free_milli=dev_free, model_names=models, fabric=np.zeros(len(names), np.int32),
                       site=np.zeros(len(names), np.int32))
    mix = current_mix(p).typical
    model = FragModel(mix, state)
    covered = model.covered
    frag = model.node_frag(state, np.arange(len(names))) if covered else np.zeros(len(names))
    readings: dict[str, list[DeviceSample]] = defaultdict(list)
    for reading in samples:  # a reader names the node it runs on (NVML: this host's name)
        readings[reading.node].append(reading)
    out: list[NodeSpan] = []
    for i, n in enumerate(names):
        devs = by_node[n]
        first = devs[0]
        up = first.node_state == NodeState.AVAILABLE.value
        count = len(devs)
        idle_milli = int(dev_free[i].sum())
        frag_milli = Decimal(str(round(float(frag[i]) / covered, 3))) if covered and up else ZERO
        frag_milli = min(max(frag_milli, ZERO), Decimal(idle_milli))
        allocated = sum((Decimal(min(1000, held_now[(n, d.slot)])) for d in devs), ZERO) / 1000 if up else ZERO
        site = sites.get(first.site)
        tdp = cat.get(first.model).tdp_watts if first.model in mcode else 0
        mine = readings.get(n, [])
        busy = measured = ZERO
        power = measured_power = ZERO
        for d in devs:
            r = next((x for x in mine if x.index == d.slot), None)
            share = Decimal(min(1000, held_now[(n, d.slot)])) / 1000
            if r is not None and r.utilisation_pct is not None:
                u = Decimal(r.utilisation_pct) / 100
                busy += u
                measured += 1
            else:
                u = share
            if r is not None and r.power_w is not None:
                power += r.power_w
                measured_power += r.power_w
            elif first.node_state != NodeState.DOWN.value:  # a node down is taken as switched off
                power += modelled_power_w(tdp, 1, u if up else ZERO)
        it = kwh(power, seconds)
        pue = site.pue if site else Decimal(1)
        price = site.power_price_kwh if site else ZERO
        out.append(NodeSpan(
            resolution=resolution, start=start, seconds=seconds, node=n, site=first.site, model=first.model,
            supplier=first.supplier, devices=count, state=first.node_state,
            available=Decimal(count) * seconds if up else ZERO, down=ZERO if up else Decimal(count) * seconds,
            allocated=allocated * seconds, rented=rented[n],
            fragmented=frag_milli / 1000 * seconds, unrented=(Decimal(idle_milli) - frag_milli) / 1000 * seconds,
            busy=busy * seconds, measured=measured * seconds, it_kwh=it, measured_kwh=kwh(measured_power, seconds),
            facility_kwh=it * pue, power_cost=it * pue * price))
    return out


def with_agents(s: Session, samples: list[DeviceSample], since: datetime) -> list[DeviceSample]:
    """This host's readings plus the agents' latest samples taken at or after ``since``; for a node
    with an agent, the agent's samples replace this host's (the agent is the one on the node)."""
    agent = [DeviceSample(node=node, index=t.index, at=t.at, name=t.name or None, uuid=t.uuid or None,
                          utilisation_pct=t.utilisation_pct, memory_used_mib=t.memory_used_mib,
                          memory_total_mib=t.memory_total_mib, power_w=t.power_w, energy_kwh=t.energy_kwh,
                          temperature_c=None if t.temperature_c is None else Decimal(t.temperature_c),
                          errors=t.errors)
             for node, t in agent_readings.fresh_telemetry(s, since)]
    if not agent:
        return samples
    nodes = {x.node for x in agent}
    return [x for x in samples if x.node not in nodes] + agent


# ------------------------------------------------------------------------------------------ sample


def _reader(p: Platform) -> TelemetryReader:
    return telemetry()  # one reader per process, shared with /metrics


@dataclass
class SampleResult:
    sampled: int = 0
    """Raw rows written (one per node), 0 when no sample was due."""
    hours: int = 0
    days: int = 0
    deleted: int = 0


def sample(p: Platform, reader: TelemetryReader | None = None) -> SampleResult:
    """The background pass's part: a raw sample when one is due (every
    ``Settings.capacity_sample_seconds``, counted from the last stored sample, so replicas taking
    turns do not sample twice), then the hour and day aggregates of complete buckets, then the
    retention. Idempotent: every row's key is unique, a second run inserts nothing."""
    out = SampleResult()
    now = p.clock.now()
    interval = timedelta(seconds=_interval(p))
    with p.read() as s:
        last = store.last_raw_end(s)
    if last is None or now - last >= interval:
        start = last if last is not None and now - last <= interval * MAX_GAP_INTERVALS else now - interval
        samples = (reader or _reader(p)).read()
        current_mix(p)
        with p.read() as s:  # measured in a read (no write lock held while FGD computes) ...
            spans = measure(p, s, start, now, samples)
        with p.tx() as s:  # ... written in a short, fenced transaction
            out.sampled = store.insert_spans(s, spans)
    with p.tx() as s:
        out.hours, out.days, out.deleted = _downsample(s, now)
    return out


def _interval(p: Platform) -> float:
    return p.settings.capacity_sample_seconds


def _downsample(s: Session, now: datetime) -> tuple[int, int, int]:
    """Hour rows for every hour whose raw samples are complete (the last raw sample ends at or
    after the hour's end), day rows for every day whose hours are complete; then the retention."""
    hours = days = 0
    raw_end = store.last_raw_end(s)
    if raw_end is not None:
        done = store.latest_start(s, Resolution.HOUR)
        frm = done + timedelta(hours=1) if done is not None else store.oldest(s, Resolution.RAW)
        upto = bucket_start(raw_end, Resolution.HOUR)  # hours before this one are complete
        if frm is not None and frm < upto:
            hours = store.insert_spans(s, _aggregate(store.spans_between(s, Resolution.RAW, frm, upto),
                                                     Resolution.HOUR))
    hour_done = store.latest_start(s, Resolution.HOUR)
    if hour_done is not None:
        done = store.latest_start(s, Resolution.DAY)
        frm = done + timedelta(days=1) if done is not None else bucket_start(
            store.oldest(s, Resolution.HOUR) or hour_done, Resolution.DAY)
        upto = bucket_start(hour_done + timedelta(hours=1), Resolution.DAY)
        if frm < upto:
            days = store.insert_spans(s, _aggregate(store.spans_between(s, Resolution.HOUR, frm, upto),
                                                    Resolution.DAY))
    deleted = 0
    for fine, coarse in ((Resolution.RAW, Resolution.HOUR), (Resolution.HOUR, Resolution.DAY)):
        keep = RETENTION[fine]
        if keep is not None:
            deleted += store.delete_covered(s, fine, coarse, bucket_start(now - keep, coarse))
    return hours, days, deleted


def _aggregate(spans: list[NodeSpan], res: Resolution) -> list[NodeSpan]:
    groups: dict[tuple[str, datetime], list[NodeSpan]] = defaultdict(list)
    for x in spans:
        groups[(x.node, bucket_start(x.start, res))].append(x)
    return [combine(v, res, at) for (_n, at), v in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


# ------------------------------------------------------------------------------------------ report


def parse_period(start: datetime | str | None, end: datetime | str | None, now: datetime,
                 default: timedelta = timedelta(hours=24)) -> tuple[datetime, datetime]:
    """The period asked for (default: the 24 hours before ``end``, which defaults to now), checked:
    start before end, at most :data:`MAX_PERIOD` long."""
    e = parse_instant(end, "end") or now
    s = parse_instant(start, "start") or e - default
    if s >= e:
        raise ValidationError(f"start ({s.isoformat()}) must be before end ({e.isoformat()})", field="start")
    if e - s > MAX_PERIOD:
        raise ValidationError(f"the period is {(e - s).days} days long; allowed: at most "
                              f"{MAX_PERIOD.days} days", field="end")
    return s, e


def report(p: Platform, actor: Principal, start: datetime | str | None = None, end: datetime | str | None = None,
           by: GroupBy | str = GroupBy.NONE, step: Resolution | str | None = None) -> CapacityReport:
    """Figures per group (site, model, supplier, node or none) over [start, end) and the series, one
    point per ``step`` (raw: the samples; hour; day; None: :func:`~suanli.domain.capacity_series.auto_step`).
    A supplier gets its own nodes only; a tenant is refused."""
    grant = authorize(actor, Action.READ_CAPACITY)
    supplier = grant.supplier
    now = p.clock.now()
    start, end = parse_period(start, end, now)
    by = _enum(GroupBy, by, "by")
    res = auto_step(start, now, end) if step in (None, "", "auto") else _enum(Resolution, step, "step")
    if res is Resolution.RAW and end - start > MAX_RAW_PERIOD:
        raise ValidationError(f"step=raw covers at most {MAX_RAW_PERIOD // timedelta(hours=1)} hours (one point "
                              "per sample of every node); "
                              "allowed for a longer period: step=hour or step=day", field="step")
    with p.read() as s:
        longest = timedelta(seconds=_interval(p) * MAX_GAP_INTERVALS)
        spans = _refine(s, _pick(s, res, start, end, supplier, longest), start, end, supplier)
    spans = [c for c in (clip(x, start, end) for x in spans) if c is not None]
    points: dict[tuple[datetime, str], Tally] = defaultdict(Tally)
    for x in spans:
        at = x.start if res is Resolution.RAW or _finer(res, x.resolution) else bucket_start(x.start, res)
        points[(at, x.group(by))].add(x)
    groups: dict[str, Tally] = defaultdict(Tally)
    for (_at, key), tally in points.items():
        groups[key].merge(tally)
    total = Tally()
    for tally in groups.values():
        total.merge(tally)
    return CapacityReport(
        start=start, end=end, by=by, step=res, currency=p.settings.currency, total=total.figures(),
        groups=[CapacityGroup(k, v.figures()) for k, v in sorted(groups.items())],
        points=[CapacityPoint(at, k, v.figures()) for (at, k), v in sorted(points.items())])


def _refine(s: Session, spans: list[NodeSpan], start: datetime, end: datetime,
            supplier: str | None) -> list[NodeSpan]:
    """Hour and day rows cut by the period's edges replaced by the finer rows of their bucket where
    those are still kept (so that a period not on bucket boundaries is not prorated)."""
    out: list[NodeSpan] = []
    cut: dict[tuple[Resolution, datetime], list[NodeSpan]] = defaultdict(list)
    for x in spans:
        inside = start <= x.start and x.start + extent(x) <= end
        (out.append(x) if inside or x.resolution is Resolution.RAW else cut[(x.resolution, x.start)].append(x))
    for (res, at), rows in cut.items():
        finer = _ORDER[_ORDER.index(res) - 1]
        found: dict[str, list[NodeSpan]] = defaultdict(list)
        for f in store.spans_between(s, finer, at, at + bucket_length(res), supplier=supplier):
            found[f.node].append(f)
        for x in rows:
            if found.get(x.node):
                out.extend(_refine(s, found[x.node], start, end, supplier))
            else:
                out.append(x)
    return out


def _finer(a: Resolution, b: Resolution) -> bool:
    return _ORDER.index(a) < _ORDER.index(b)


def _enum(kind: type[E], value: object, name: str) -> E:
    try:
        return kind(str(getattr(value, "value", value)).lower())
    except ValueError:
        allowed = ", ".join(x.value for x in kind)
        raise ValidationError(f"{name} {str(value)[:40]!r} is not allowed; allowed: {allowed}", field=name) from None


def _pick(s: Session, step: Resolution, start: datetime, end: datetime, supplier: str | None,
          longest: timedelta) -> list[NodeSpan]:
    """The rows that cover [start, end) once: rows of ``step``; where none are stored yet (the tail not
    aggregated), the finer rows; where they are gone (past their retention), the coarser rows.
    ``longest``: the longest a raw span can be (a raw row starting that much before ``start`` may
    still reach into the period)."""
    i = _ORDER.index(step)
    ends: dict[Resolution, datetime | None] = {}
    starts: dict[Resolution, datetime | None] = {}
    for r in _ORDER:
        latest = store.latest_start(s, r)
        ends[r] = None if latest is None else latest + (timedelta(0) if r is Resolution.RAW else bucket_length(r))
        starts[r] = store.oldest(s, r)
    out: list[NodeSpan] = []

    def rows(r: Resolution, lo: datetime, hi: datetime, floor: datetime | None = None) -> None:
        # a row that starts before ``lo`` may still overlap it (clipped later): widen by one bucket
        lo = bucket_start(lo, r) if r is not Resolution.RAW else lo - longest
        if floor is not None:
            lo = max(lo, floor)
        if lo < hi:
            out.extend(store.spans_between(s, r, lo, hi, supplier=supplier))

    rows(step, start, end)
    # finer rows: only from the end of the last row of the next coarser resolution (not aggregated yet)
    for j in range(i - 1, -1, -1):
        cut = ends[_ORDER[j + 1]]
        rows(_ORDER[j], start, end, floor=cut)
    # coarser rows: only before the oldest row of the next finer resolution (its rows were deleted)
    for k in range(i + 1, len(_ORDER)):
        coarse, below = _ORDER[k], _ORDER[k - 1]
        oldest = starts[below]
        if oldest is None:
            continue
        hi = min(end, bucket_start(oldest, coarse))
        rows(coarse, start, hi)
    return out


# ------------------------------------------------------------------------------------------ now


@dataclass(frozen=True)
class CapacityNow:
    """The figures of this instant per group (computed live, read-only). Final: every field.
    ``power_kw``: the IT power drawn now (measured where telemetry reports it, else modelled);
    ``facility_kw``: × PUE; ``power_cost_per_hour``: facility kW × the site's price."""

    at: datetime
    by: GroupBy
    total: CapacityFigures
    power_kw: Decimal
    facility_kw: Decimal
    power_cost_per_hour: Decimal
    groups: list[CapacityGroup] = field(default_factory=list)


def now(p: Platform, actor: Principal, by: GroupBy | str = GroupBy.NONE,
        reader: TelemetryReader | None = None) -> CapacityNow:
    """Allocation, idle split, down and power of the fleet at this instant (a one-second span ending
    now, measured exactly as a sample is; nothing is written)."""
    grant = authorize(actor, Action.READ_CAPACITY)
    supplier = grant.supplier
    by = _enum(GroupBy, by, "by")
    at = p.clock.now()
    samples = (reader or _reader(p)).read()
    current_mix(p)
    with p.read() as s:
        spans = [x for x in measure(p, s, at - timedelta(seconds=1), at, samples)
                 if supplier is None or x.supplier == supplier]
    groups: dict[str, list[NodeSpan]] = defaultdict(list)
    for x in spans:
        groups[x.group(by)].append(x)
    hour = Decimal(3600)
    it = sum((x.it_kwh for x in spans), ZERO) * hour
    fac = sum((x.facility_kwh for x in spans), ZERO) * hour
    cost = sum((x.power_cost for x in spans), ZERO) * hour
    return CapacityNow(at=at, by=by, total=figures(spans), power_kw=it.quantize(Decimal("0.001")),
                       facility_kw=fac.quantize(Decimal("0.001")), power_cost_per_hour=cost.quantize(Decimal("0.01")),
                       groups=[CapacityGroup(k, figures(v)) for k, v in sorted(groups.items())])

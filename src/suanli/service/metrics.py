"""Operator figures: fleet, leases, allocation, usage, SLA credits and measured energy.

Returned as plain data; the API renders it in the Prometheus text format. Telemetry comes from
the reader of this node (NVML where there is a GPU, else nothing: no figure is invented) and from
the agents of agent nodes (:mod:`suanli.service.agent_metrics`).
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.drivers.telemetry import DeviceSample, TelemetryReader, facility_kwh, select_telemetry
from suanli.service.agent_metrics import AgentFigures, agent_figures
from suanli.service.platform import Platform
from suanli.store import capacity_series as capacity_store
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store.engine_tables import JobRow, SlaCreditRow


@dataclass
class Metrics:
    nodes: Counter[str] = field(default_factory=Counter)
    """nodes by state"""
    devices: dict[tuple[str, str], int] = field(default_factory=dict)
    """(model, site) -> devices on available nodes"""
    allocated: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    """(model, site) -> device-equivalents held by leases now"""
    leases: Counter[str] = field(default_factory=Counter)
    jobs: Counter[str] = field(default_factory=Counter)
    used_device_seconds: Decimal = Decimal(0)
    sla_credits: Decimal = Decimal(0)
    telemetry_backend: str = "none"
    telemetry_reason: str | None = None
    samples: list[DeviceSample] = field(default_factory=list)
    pue: Decimal | None = None
    """PUE of the site this server's node belongs to, when the node is in the fleet."""
    agents: list[AgentFigures] = field(default_factory=list)
    """Agent nodes: health, RTT, last heartbeat and their devices' latest telemetry."""

    @property
    def allocation_ratio(self) -> Decimal:
        total = sum(self.devices.values())
        return (sum(self.allocated.values(), Decimal(0)) / total) if total else Decimal(0)

    @property
    def it_energy_kwh(self) -> Decimal | None:
        vals = [x.energy_kwh for x in self.samples if x.energy_kwh is not None]
        return sum(vals, Decimal(0)) if vals else None

    @property
    def facility_energy_kwh(self) -> Decimal | None:
        it = self.it_energy_kwh
        return None if it is None or self.pue is None else facility_kwh(it, self.pue)


_reader: TelemetryReader | None = None


def telemetry() -> TelemetryReader:
    global _reader
    if _reader is None:
        _reader = select_telemetry()
    return _reader


def collect(p: Platform, actor: Principal, reader: TelemetryReader | None = None) -> Metrics:
    authorize(actor, Action.READ_METRICS)
    now = p.clock.now()
    m = Metrics()
    with p.tx() as s:
        nodes = fleet_store.list_nodes(s)
        sites = {x.name: x for x in fleet_store.list_sites(s)}
        m.nodes.update(n.state.value for n in nodes)
        # held = what allocations hold at this instant (not the placement snapshot's "not free": a
        # device without a list price, or under its floor, is not for sale, yet nobody holds it)
        milli: dict[tuple[str, int], int] = {}
        for w in capacity_store.windows(s, now, now):
            if w.start <= now and (w.end is None or w.end > now):
                milli[(w.node, w.slot)] = milli.get((w.node, w.slot), 0) + w.milli
        for dev in lease_store.device_versions(s):
            key = (dev.model, dev.site)
            if dev.node_state != "available":
                continue
            m.devices[key] = m.devices.get(key, 0) + 1
            held = Decimal(min(1000, milli.get((dev.node, dev.slot), 0))) / 1000
            m.allocated[key] = m.allocated.get(key, Decimal(0)) + held
        m.leases.update(lease_store.count_by_state(s, now))  # as they are now (reads never write)
        m.jobs.update(dict(s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()))
        m.used_device_seconds = sum((x or Decimal(0) for x in s.scalars(select(JobRow.device_seconds))), Decimal(0))
        m.sla_credits = sum((x for x in s.scalars(select(SlaCreditRow.amount))), Decimal(0))
        host = socket.gethostname()
        mine = next((n for n in nodes if n.name == host), None)
        m.pue = sites[mine.site].pue if mine is not None else None
        m.agents = agent_figures(s, p.settings, now, {n.name: n.model for n in nodes})
    r = reader or telemetry()
    m.telemetry_backend, m.telemetry_reason = r.backend, r.reason
    m.samples = r.read()
    return m

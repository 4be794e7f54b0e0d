from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from suanli.api.agent_metrics import agent_families
from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.fleet import FleetImportResponse
from suanli.api.schemas.jobs import EngineImportRequest
from suanli.service import fleet, metrics, reconcile
from suanli.service.metrics import Metrics

router = APIRouter(tags=["engine"])


@router.post("/v1/fleet/import-engine", response_model=FleetImportResponse)
def import_engine(body: EngineImportRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, int]:
    """Import the nodes of the running engine (e.g. Slurm nodes and GPU GRES) into a site."""
    return fleet.import_from_engine(p, who, site=body.site, supplier=body.supplier, fabric=body.fabric)


@router.post("/v1/engine/reconcile")
def reconcile_now(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Run one pass of the background reconcilers now (operator)."""
    return reconcile.run_now(p, who)


class _Collector:
    def __init__(self, m: Metrics) -> None:
        self.m = m

    def collect(self):  # type: ignore[no-untyped-def]
        m = self.m
        g = GaugeMetricFamily("suanli_nodes", "Nodes by state", labels=["state"])
        for state, n in sorted(m.nodes.items()):
            g.add_metric([state], n)
        yield g
        total = GaugeMetricFamily("suanli_devices", "Devices on available nodes", labels=["model", "site"])
        held = GaugeMetricFamily("suanli_devices_allocated", "Device-equivalents held by leases now",
                                 labels=["model", "site"])
        for (model, site), n in sorted(m.devices.items()):
            total.add_metric([model, site], n)
            held.add_metric([model, site], float(m.allocated.get((model, site), 0)))
        yield total
        yield held
        yield GaugeMetricFamily("suanli_allocation_ratio", "Allocated / available device capacity",
                                value=float(m.allocation_ratio))
        leases = GaugeMetricFamily("suanli_leases", "Leases by state", labels=["state"])
        for state, n in sorted(m.leases.items()):
            leases.add_metric([state], n)
        yield leases
        jobs = GaugeMetricFamily("suanli_jobs", "Jobs by state", labels=["state"])
        for state, n in sorted(m.jobs.items()):
            jobs.add_metric([state], n)
        yield jobs
        yield CounterMetricFamily("suanli_used_device_seconds", "Device-seconds used by finished jobs",
                                  value=float(m.used_device_seconds))
        yield CounterMetricFamily("suanli_sla_credits", "SLA credits granted (currency units)",
                                  value=float(m.sla_credits))
        util = GaugeMetricFamily("suanli_device_utilisation_percent", "Measured device utilisation",
                                 labels=["node", "index", "name"])
        power = GaugeMetricFamily("suanli_device_power_watts", "Measured device power", labels=["node", "index", "name"])
        energy = CounterMetricFamily("suanli_device_energy_kwh", "Device energy counter (since driver load)",
                                     labels=["node", "index", "name"])
        for x in m.samples:
            labels = [x.node, str(x.index), x.name or ""]
            if x.utilisation_pct is not None:
                util.add_metric(labels, x.utilisation_pct)
            if x.power_w is not None:
                power.add_metric(labels, float(x.power_w))
            if x.energy_kwh is not None:
                energy.add_metric(labels, float(x.energy_kwh))
        yield util
        yield power
        yield energy
        if m.facility_energy_kwh is not None:
            yield CounterMetricFamily("suanli_facility_energy_kwh", "Device energy x site PUE",
                                      value=float(m.facility_energy_kwh))
        info = GaugeMetricFamily("suanli_telemetry_backend", "Telemetry backend in use (1)", labels=["backend", "reason"])
        info.add_metric([m.telemetry_backend, m.telemetry_reason or ""], 1)
        yield info
        yield from agent_families(m.agents)


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus(p: PlatformDep, who: PrincipalDep) -> PlainTextResponse:
    """Prometheus metrics (operator token): fleet, leases, allocation, usage, energy."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metrics.collect(p, who)))
    return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")

"""Capacity and energy reports and the fleet heatmap (operator; a supplier for its own nodes)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.capacity import (
    CapacityNowResponse,
    CapacityReportResponse,
    EnergyReportResponse,
    HeatmapResponse,
)
from suanli.domain.capacity_series import CapacityFigures
from suanli.service import capacity, heatmap

router = APIRouter(tags=["reports"])

By = Query("none", max_length=16, description="none, site, model, supplier or node")
Step = Query(None, max_length=8, description="raw (periods up to 12 h), hour or day; default: raw for a period "
             "up to 3 h within the last 48 h, hour within 90 days, else day")
Start = Query(None, max_length=64, description="ISO date (midnight UTC) or date-time; default: 24 hours before end")
End = Query(None, max_length=64, description="ISO date or date-time, exclusive; default: now")


def _fig(f: CapacityFigures) -> dict[str, Any]:
    return asdict(f)


@router.get("/v1/reports/capacity", response_model=CapacityReportResponse)
def capacity_report(p: PlatformDep, who: PrincipalDep, by: str = By, step: str | None = Step,
                    start: str | None = Start, end: str | None = End) -> dict[str, Any]:
    """Allocation rate, lease rate, measured utilisation, idle split (fragmented, unrented whole),
    down, energy and power cost per group over [start, end), with the series (one point per step and
    group). Operator; a supplier gets its own nodes. Reads never write."""
    r = capacity.report(p, who, start, end, by, step)
    return {"start": r.start, "end": r.end, "by": r.by.value, "step": r.step.value, "currency": r.currency,
            "total": _fig(r.total), "groups": [{"group": g.key, "figures": _fig(g.figures)} for g in r.groups],
            "points": [{"at": x.at, "group": x.group, "figures": _fig(x.figures)} for x in r.points]}


@router.get("/v1/reports/energy", response_model=EnergyReportResponse)
def energy_report(p: PlatformDep, who: PrincipalDep, by: str = Query("site", max_length=16,
                                                                     description="none, site, model, supplier or node"),
                  start: str | None = Start, end: str | None = End) -> dict[str, Any]:
    """IT energy (measured where telemetry reports it, else modelled from TDP), facility energy (x PUE)
    and power cost (x the site's price) per group over [start, end) (the capacity report's figures)."""
    r = capacity.report(p, who, start, end, by)

    def e(key: str, f: CapacityFigures) -> dict[str, Any]:
        return {"group": key, "it_kwh": f.it_kwh, "measured_kwh": f.measured_kwh, "facility_kwh": f.facility_kwh,
                "power_cost": f.power_cost}

    return {"start": r.start, "end": r.end, "by": r.by.value, "currency": r.currency, "total": e("total", r.total),
            "groups": [e(g.key, g.figures) for g in r.groups]}


@router.get("/v1/reports/capacity/now", response_model=CapacityNowResponse)
def capacity_now(p: PlatformDep, who: PrincipalDep, by: str = By) -> dict[str, Any]:
    """The figures of this instant per group, computed live (nothing written): allocation, idle split,
    down, power drawn now and its cost per hour."""
    n = capacity.now(p, who, by)
    return {"at": n.at, "by": n.by.value, "currency": p.settings.currency, "power_kw": n.power_kw,
            "facility_kw": n.facility_kw, "power_cost_per_hour": n.power_cost_per_hour, "total": _fig(n.total),
            "groups": [{"group": g.key, "figures": _fig(g.figures)} for g in n.groups]}


@router.get("/v1/fleet/heatmap", response_model=HeatmapResponse)
def fleet_heatmap(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Per node its devices now: fill (0..1), state, the leases holding each (with the tenant's name for
    the operator; a supplier gets its own nodes without tenants). One read, two queries."""
    m = heatmap.heatmap(p, who)
    return {"at": m.at, "nodes": [
        {"node": n.name, "site": n.site, "model": n.model, "supplier": n.supplier, "state": n.state,
         "devices": [{"slot": d.slot, "model": d.model, "fill": d.fill, "state": d.state,
                      "leases": [{"lease": x.lease_id, "state": x.state, "share": x.share, "tenant": x.tenant_id,
                                  "tenant_name": x.tenant_name, "drawn": x.drawn} for x in d.leases]}
                     for d in n.devices]} for n in m.nodes]}

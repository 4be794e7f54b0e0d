"""Operator economics: investment inputs, the economics report and the revenue report over a period."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.economics import (
    EconomicsResponse,
    InputsChanged,
    InputsRequest,
    InputsResponse,
    PeriodRevenueResponse,
)
from suanli.service import economics as service
from suanli.service import revenue_report

router = APIRouter(tags=["reports"])

By = Query("site", max_length=16, description="site, model, supplier or node")
Start = Query(None, max_length=40, description="ISO date (midnight UTC) or date-time; default: the 1st of this month")
End = Query(None, max_length=40, description="ISO date or date-time, exclusive; default and at most: now")


@router.get("/v1/economics/inputs", response_model=InputsResponse)
def get_inputs(p: PlatformDep, who: PrincipalDep) -> Any:
    """Investment inputs: the global settings, each site's fixed opex, each node's capex (operator)."""
    return service.get_inputs(p, who)


@router.put("/v1/economics/inputs", response_model=InputsChanged)
def set_inputs(body: InputsRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Change settings, sites' opex and nodes' capex (operator); all checked first, written together."""
    return service.set_inputs(
        p, who, settings=body.settings.model_dump(exclude_none=True) if body.settings else None,
        sites=[x.model_dump(exclude_none=True) for x in body.sites],
        nodes=[x.model_dump(exclude_none=True) for x in body.nodes])


@router.get("/v1/reports/economics", response_model=EconomicsResponse)
def economics(p: PlatformDep, who: PrincipalDep, by: str = By, start: str | None = Start,
              end: str | None = End) -> Any:
    """Per group: capex, depreciation, revenue and run-rate, energy, opex, gross and net margin,
    payback, IRR, NPV, break-even lease rate and price, sensitivity, payback curve (operator)."""
    return service.economics_report(p, who, by, start, end, energy=service.energy_seam(p, who))


@router.get("/v1/reports/revenue", response_model=PeriodRevenueResponse)
def revenue(p: PlatformDep, who: PrincipalDep, by: str = By, start: str | None = Start,
            end: str | None = End) -> Any:
    """Revenue, supplier share, commission, realised vs list price per P-year per group (operator)."""
    return revenue_report.revenue_report(p, who, by, start, end)

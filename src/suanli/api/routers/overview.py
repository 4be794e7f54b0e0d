"""The operator's overview: the figures of the console's start page."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.overview import OverviewResponse
from suanli.domain.overview import Trend
from suanli.service import overview as service

router = APIRouter(tags=["reports"])


def _trend(t: Trend) -> dict[str, Any]:
    return {"now": t.now, "before": t.before, "delta": t.delta}


@router.get("/v1/reports/overview", response_model=OverviewResponse)
def overview(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Allocation vs measured utilisation, lease rate, revenue month to date vs last month, run-rate,
    energy cost, margin, and the counts that need a look (operator only). Reads never write."""
    o = service.overview(p, who)
    return {"as_of": o.as_of, "currency": o.currency, "devices": o.devices,
            **{k: _trend(getattr(o, k)) for k in ("allocation", "utilisation", "lease_rate", "revenue_mtd",
                                                  "commission_mtd", "run_rate", "margin_mtd")},
            "energy_cost_today": o.energy_cost_today, "energy_cost_mtd": o.energy_cost_mtd,
            "power_cost_per_hour": o.power_cost_per_hour, "idle": asdict(o.idle),
            "counts": asdict(o.counts), "low_runway": list(o.low_runway), "sources": o.sources}

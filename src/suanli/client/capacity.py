"""Capacity, energy and the fleet heatmap, over a :class:`~suanli.client.http.SuanliClient`.

::

    from suanli.client import SuanliClient
    from suanli.client.capacity import CapacityClient

    with SuanliClient(server, token) as api:
        r = CapacityClient(api).report(by="site", start="2026-12-01", end="2026-12-02")
        print(r.total.lease_rate, [(g.group, g.figures.fragmented) for g in r.groups])
"""

from __future__ import annotations

from typing import Any

from suanli.api.schemas.capacity import (
    CapacityNowResponse,
    CapacityReportResponse,
    EnergyReportResponse,
    HeatmapResponse,
)
from suanli.client.http import Endpoints


def _params(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


class CapacityClient(Endpoints):
    """``GET /v1/reports/capacity``, ``/v1/reports/capacity/now``, ``/v1/reports/energy``, ``/v1/fleet/heatmap``."""

    def report(self, *, by: str = "none", start: str | None = None, end: str | None = None,
               step: str | None = None) -> CapacityReportResponse:
        return self._one(CapacityReportResponse, "GET", "/v1/reports/capacity",
                         params=_params(by=by, start=start, end=end, step=step))

    def now(self, *, by: str = "none") -> CapacityNowResponse:
        return self._one(CapacityNowResponse, "GET", "/v1/reports/capacity/now", params={"by": by})

    def energy(self, *, by: str = "site", start: str | None = None, end: str | None = None) -> EnergyReportResponse:
        return self._one(EnergyReportResponse, "GET", "/v1/reports/energy", params=_params(by=by, start=start, end=end))

    def heatmap(self) -> HeatmapResponse:
        return self._one(HeatmapResponse, "GET", "/v1/fleet/heatmap")

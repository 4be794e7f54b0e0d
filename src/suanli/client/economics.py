"""Operator economics over a :class:`~suanli.client.http.SuanliClient`: investment inputs, the
economics report and the revenue report over a period.

::

    from suanli.client import SuanliClient
    from suanli.client.economics import EconomicsClient

    with SuanliClient(server, token) as api:
        eco = EconomicsClient(api)
        eco.set_inputs({"settings": {"life_years": 5}, "nodes": [{"node": "n1", "capex": "2200000",
                                                                  "purchased_on": "2025-07-01"}]})
        for g in eco.economics(by="site").groups:
            print(g.group, g.payback_years, g.breakeven_price_p_year)
"""

from __future__ import annotations

from typing import Any

from suanli.api.schemas.economics import (
    EconomicsResponse,
    InputsChanged,
    InputsResponse,
    PeriodRevenueResponse,
)
from suanli.client.http import Endpoints


class EconomicsClient(Endpoints):
    """``/v1/economics/inputs``, ``/v1/reports/economics``, ``/v1/reports/revenue`` (operator)."""

    def inputs(self) -> InputsResponse:
        return self._one(InputsResponse, "GET", "/v1/economics/inputs")

    def set_inputs(self, body: dict[str, Any]) -> InputsChanged:
        """``body``: any of ``settings`` (dict), ``sites`` (list of dicts), ``nodes`` (list of dicts);
        amounts as decimal strings."""
        return self._one(InputsChanged, "PUT", "/v1/economics/inputs", json=body)

    def economics(self, by: str = "site", start: str | None = None, end: str | None = None) -> EconomicsResponse:
        return self._one(EconomicsResponse, "GET", "/v1/reports/economics",
                         params={"by": by, "start": start, "end": end})

    def revenue(self, by: str = "site", start: str | None = None, end: str | None = None) -> PeriodRevenueResponse:
        return self._one(PeriodRevenueResponse, "GET", "/v1/reports/revenue",
                         params={"by": by, "start": start, "end": end})

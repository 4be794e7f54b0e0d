"""The operator's overview, over a :class:`~suanli.client.http.SuanliClient`.

::

    from suanli.client import SuanliClient
    from suanli.client.overview import OverviewClient

    with SuanliClient(server, token) as api:
        o = OverviewClient(api).overview()
        print(o.allocation.now, o.revenue_mtd.now, o.counts.down_nodes)
"""

from __future__ import annotations

from suanli.api.schemas.overview import OverviewResponse
from suanli.client.http import Endpoints


class OverviewClient(Endpoints):
    """``GET /v1/reports/overview`` (operator)."""

    def overview(self) -> OverviewResponse:
        return self._one(OverviewResponse, "GET", "/v1/reports/overview")

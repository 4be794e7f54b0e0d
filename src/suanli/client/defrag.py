"""Defragmentation endpoints (operator): settings, plans, approval.

::

    with SuanliClient(server, token) as api:
        d = DefragClient(api)
        plan = d.propose([{"form": "gpu", "quantity": 8, "models": ["H100"]}]).plan
        if plan is not None:
            d.approve(plan.id)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from suanli.api.schemas.defrag import (
    DefragPlanResponse,
    DefragProposeRequest,
    DefragProposeResponse,
    DefragSettingsRequest,
    DefragSettingsResponse,
)
from suanli.client.http import Endpoints


class DefragClient(Endpoints):

    def settings(self) -> DefragSettingsResponse:
        return self._one(DefragSettingsResponse, "GET", "/v1/defrag/settings")

    def set(self, *, auto: bool | None = None, notice_s: int | None = None,
            discount_pct: str | Decimal | None = None) -> DefragSettingsResponse:
        body = DefragSettingsRequest.model_validate(
            {"auto": auto, "notice_s": notice_s, "discount_pct": None if discount_pct is None else str(discount_pct)})
        return self._one(DefragSettingsResponse, "PUT", "/v1/defrag/settings",
                         json=body.model_dump(mode="json", exclude_none=True))

    def propose(self, targets: Sequence[Mapping[str, Any]] = ()) -> DefragProposeResponse:
        body = DefragProposeRequest.model_validate({"targets": list(targets)})
        return self._one(DefragProposeResponse, "POST", "/v1/defrag/plans", json=body.model_dump(mode="json"))

    def plans(self) -> list[DefragPlanResponse]:
        return self._many(DefragPlanResponse, "/v1/defrag/plans")

    def get(self, plan_id: str) -> DefragPlanResponse:
        return self._one(DefragPlanResponse, "GET", f"/v1/defrag/plans/{plan_id}")

    def approve(self, plan_id: str) -> DefragPlanResponse:
        return self._one(DefragPlanResponse, "POST", f"/v1/defrag/plans/{plan_id}/approve")

    def cancel(self, plan_id: str) -> DefragPlanResponse:
        return self._one(DefragPlanResponse, "POST", f"/v1/defrag/plans/{plan_id}/cancel")

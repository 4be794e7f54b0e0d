"""Defragmentation (operator): settings, plans of moves of migratable leases, approval (docs/defrag.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.defrag import (
    DefragPlanResponse,
    DefragProposeRequest,
    DefragProposeResponse,
    DefragSettingsRequest,
    DefragSettingsResponse,
)
from suanli.service import defrag

router = APIRouter(tags=["defrag"])


@router.get("/v1/defrag/settings", response_model=DefragSettingsResponse)
def get_settings(p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Auto on/off, the notice and the migratable discount in force (operator)."""
    return defrag.settings_doc(defrag.get_settings(p, who))


@router.put("/v1/defrag/settings", response_model=DefragSettingsResponse)
def set_settings(body: DefragSettingsRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Change auto, the notice (0..86400 s) or the migratable discount (0..90 %) (operator)."""
    raw = {k: v for k, v in body.model_dump().items() if v is not None}
    return defrag.settings_doc(defrag.set_settings(p, who, raw))


@router.get("/v1/defrag/plans", response_model=list[DefragPlanResponse])
def list_plans(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """The latest 50 plans, newest first, with their moves (operator)."""
    return defrag.plan_docs(p, defrag.list_plans(p, who))


@router.post("/v1/defrag/plans", response_model=DefragProposeResponse, status_code=201)
def propose(body: DefragProposeRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Propose moves of migratable leases that free whole GPUs / nodes for the queued orders and the
    shapes given (operator). Nothing is moved until the plan is approved."""
    plan = defrag.propose(p, who, [t.model_dump() for t in body.targets])
    if plan is None:
        return {"plan": None, "message": "no move of a migratable lease makes room for a target now"}
    return {"plan": defrag.plan_doc(p, plan), "message": plan.summary}


@router.get("/v1/defrag/plans/{defrag_plan_id}", response_model=DefragPlanResponse)
def get_plan(defrag_plan_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    return defrag.plan_doc(p, defrag.get_plan(p, who, defrag_plan_id))


@router.post("/v1/defrag/plans/{defrag_plan_id}/approve", response_model=DefragPlanResponse)
def approve(defrag_plan_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Approve a proposed plan: its leases are notified now and moved when the notice is over (operator)."""
    return defrag.plan_doc(p, defrag.approve(p, who, defrag_plan_id))


@router.post("/v1/defrag/plans/{defrag_plan_id}/cancel", response_model=DefragPlanResponse)
def cancel(defrag_plan_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Cancel a plan whose moves have not happened yet (operator)."""
    return defrag.plan_doc(p, defrag.cancel(p, who, defrag_plan_id))

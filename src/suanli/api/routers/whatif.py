"""What-if runs (operator): ``POST /v1/whatif`` starts one (202; 422 naming the field, or when it would
run too long), ``GET /v1/whatif`` lists them, ``GET /v1/whatif/{run_id}`` shows progress and result,
``POST /v1/whatif/{run_id}/cancel`` stops one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.whatif import WhatIfRequest, WhatIfRunResponse
from suanli.domain.whatif import WhatIfRun
from suanli.service import whatif

router = APIRouter(tags=["whatif"])
RunId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]


def run_out(r: WhatIfRun) -> dict[str, Any]:
    return {"id": r.id, "state": r.state.value, "progress": r.progress, "params": r.params, "result": r.result,
            "error": r.error, "estimate_seconds": r.estimate_seconds, "created_at": r.created_at,
            "started_at": r.started_at, "finished_at": r.finished_at, "heartbeat_at": r.heartbeat_at,
            "cancel_requested": r.cancel_requested}


def params_of(body: WhatIfRequest) -> whatif.WhatIfParams:
    return whatif.WhatIfParams(
        days=body.days, seed=body.seed, policy=body.policy, price_change_pct=body.price_change_pct,
        price_models=tuple(body.price_models), elasticity=body.elasticity,
        add_nodes=tuple(whatif.AddNodes(a.model, a.count, a.site, a.devices, a.cpu_cores, a.supplier) for a in body.add_nodes),
        remove_nodes=tuple(body.remove_nodes), growth=body.growth, trace=body.trace)


@router.post("/v1/whatif", response_model=WhatIfRunResponse, status_code=202)
def start_whatif(p: PlatformDep, who: PrincipalDep, body: WhatIfRequest | None = None) -> dict[str, Any]:
    """Start a what-if run on the live fleet (operator); poll ``GET /v1/whatif/{id}`` for progress."""
    return run_out(whatif.start_run(p, who, params_of(body or WhatIfRequest())))


@router.get("/v1/whatif", response_model=list[WhatIfRunResponse])
def list_whatif(p: PlatformDep, who: PrincipalDep,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
    """The newest what-if runs first."""
    return [run_out(r) for r in whatif.list_runs(p, who, limit)]


@router.get("/v1/whatif/{run_id}", response_model=WhatIfRunResponse)
def get_whatif(run_id: RunId, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """A run: state, progress (0..1), and its result when done."""
    return run_out(whatif.get_run(p, who, run_id))


@router.post("/v1/whatif/{run_id}/cancel", response_model=WhatIfRunResponse)
def cancel_whatif(run_id: RunId, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Cancel a queued or running run (409 when it has finished)."""
    return run_out(whatif.cancel_run(p, who, run_id))

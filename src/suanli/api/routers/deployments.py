"""Model deployments (docs/inference.md, "Deployments and replicas"):

- ``POST /v1/deployments`` (operator: public, owned by the house tenant; tenant: its own, private);
- ``GET /v1/deployments`` (operator: all; tenant: its own and the public ones), ``GET /v1/deployments/{id}``;
- ``PATCH /v1/deployments/{id}`` (replica bounds, scale now, target in flight, idle seconds);
- ``DELETE /v1/deployments/{id}`` (replicas stopped, leases ended);
- ``GET /v1/deployments/{id}/replicas`` (live ones; ``?all=true``: also stopped and failed).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.deployments import (
    DeploymentChangeRequest,
    DeploymentCreateRequest,
    DeploymentResponse,
    ReplicaResponse,
)
from suanli.domain.inference import Deployment, Replica
from suanli.service import deployments
from suanli.service.platform import Platform

router = APIRouter(tags=["deployments"])
DeploymentId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^dep_[a-f0-9]{1,36}$",
                                   description="the deployment's id (dep_...)")]


def deployment_out(p: Platform, who: Any, d: Deployment, reps: list[Replica] | None = None) -> dict[str, Any]:
    reps = reps if reps is not None else deployments.list_replicas(p, who, d.id)
    counts: dict[str, int] = {}
    for r in reps:
        counts[r.state.value] = counts.get(r.state.value, 0) + 1
    return {**d.to_dict(), "replicas": counts, "cold_start_ms": deployments.median_cold_start(reps)}


@router.post("/v1/deployments", response_model=DeploymentResponse, status_code=201)
def create_deployment(body: DeploymentCreateRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Deploy a model; its replicas start in the background (watch ``GET /v1/deployments/{id}/replicas``)."""
    return deployment_out(p, who, deployments.create_deployment(p, who, body.document()), [])


@router.get("/v1/deployments", response_model=list[DeploymentResponse])
def list_deployments(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """Active deployments the caller may see, with their live replicas by state."""
    return [deployment_out(p, who, d) for d in deployments.list_deployments(p, who)]


@router.get("/v1/deployments/{deployment_id}", response_model=DeploymentResponse)
def get_deployment(deployment_id: DeploymentId, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    return deployment_out(p, who, deployments.get_deployment(p, who, deployment_id))


@router.patch("/v1/deployments/{deployment_id}", response_model=DeploymentResponse)
def change_deployment(deployment_id: DeploymentId, body: DeploymentChangeRequest, p: PlatformDep,
                      who: PrincipalDep) -> dict[str, Any]:
    """Change the replica bounds or scale now (``desired_replicas`` within them)."""
    return deployment_out(p, who, deployments.update_deployment(p, who, deployment_id, body.document()))


@router.delete("/v1/deployments/{deployment_id}", response_model=DeploymentResponse)
def delete_deployment(deployment_id: DeploymentId, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Delete: its replicas are stopped and their leases ended now; its name is free again."""
    return deployment_out(p, who, deployments.delete_deployment(p, who, deployment_id), [])


@router.get("/v1/deployments/{deployment_id}/replicas", response_model=list[ReplicaResponse])
def list_replicas(deployment_id: DeploymentId, p: PlatformDep, who: PrincipalDep,
                  all: bool = False) -> list[dict[str, Any]]:
    """The deployment's replicas: state, where (node, hardware, lease), health failures, cold start."""
    return [r.to_dict() for r in deployments.list_replicas(p, who, deployment_id, all_states=all)]

"""Wire schemas of model deployments (``/v1/deployments``; docs/inference.md, "Deployments and replicas").

The body's fields are checked here for type and size; their rules (name pattern, bounds, shapes that
can run here) are the domain's (:func:`suanli.domain.inference.parse_deployment`) and the service's,
whose 422 names the field and what is allowed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Wire

SmallInt = Field(default=None, ge=-(1 << 31), le=(1 << 31) - 1)


class ShapeRequest(Wire):
    """One candidate replica shape: ``{"form": "slice", "model": "L20", "share": "0.25"}``,
    ``{"form": "gpu", "model": "A100-80GB", "quantity": 1}`` or ``{"form": "server", "quantity": 1}``."""

    form: str = Field(max_length=16)
    """slice | gpu | server (node)"""
    model: str | None = Field(default=None, max_length=64)
    """The accelerator model (required for slice and gpu)."""
    share: str | float | None = Field(default=None)
    """slice: the fraction of one device, > 0 and <= 1 in steps of 0.01 (a decimal string, e.g. "0.25")."""
    quantity: int | None = SmallInt
    memory_mib: int | None = SmallInt
    cpus: int | None = SmallInt


class DeploymentCreateRequest(Wire):
    name: str = Field(max_length=200)
    """The name callers give as ``model`` (1-64 letters, digits, '.', '_', ':' or '-')."""
    model: str = Field(max_length=200)
    """The built-in model: ``tiny-gpt`` (generate) or ``all-minilm-l6-v2`` (embed)."""
    kind: str | None = Field(default=None, max_length=16)
    """generate | embed (default: the model's)."""
    runtime: str | None = Field(default=None, max_length=16)
    """builtin (vllm and llamacpp are not available here yet)."""
    shapes: list[ShapeRequest] = Field(max_length=64)
    """Candidate replica shapes; new replicas go to the one with the lowest cost per token that fits."""
    min_replicas: int | None = SmallInt
    max_replicas: int | None = SmallInt
    target_inflight: int | None = SmallInt
    """Requests in flight per replica the autoscaler aims at (default 4)."""
    idle_seconds: int | None = SmallInt
    """With min_replicas 0: no request for this long scales to zero (default 300)."""
    context_length: int | None = SmallInt
    max_output_tokens: int | None = SmallInt
    near: str | None = Field(default=None, max_length=200)
    """A region: replicas are placed there (edge inference)."""
    max_rtt_ms: int | None = SmallInt
    """With near: only sites measured within this round-trip time."""
    public: bool | None = None
    """The operator's deployments are public (every tenant may call them) unless false; a tenant's are private."""

    def document(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DeploymentChangeRequest(Wire):
    min_replicas: int | None = SmallInt
    max_replicas: int | None = SmallInt
    desired_replicas: int | None = SmallInt
    """Scale now (within min..max); the autoscaler moves it on from there."""
    target_inflight: int | None = SmallInt
    idle_seconds: int | None = SmallInt

    def document(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ShapeResponse(BaseModel):
    form: str
    model: str | None = None
    share: str | None = None
    quantity: int | None = None
    memory_mib: int | None = None
    cpus: int | None = None


class ReplicaResponse(BaseModel):
    id: str
    deployment_id: str
    state: str
    """pending | starting | ready | unhealthy | draining | stopped | failed"""
    lease_id: str | None
    job_id: str | None
    node: str
    hardware: str
    endpoint: str
    reason: str
    """Why it is where it is (the placement's cost per token), or why it stopped."""
    failures: int
    created_at: datetime | None
    started_at: datetime | None
    ready_at: datetime | None
    stopped_at: datetime | None
    cold_start_ms: int | None


class DeploymentResponse(BaseModel):
    id: str
    owner_id: str
    name: str
    public: bool
    kind: str
    runtime: str
    model_ref: str
    shapes: list[ShapeResponse]
    near: str
    max_rtt_ms: int | None
    min_replicas: int
    max_replicas: int
    desired_replicas: int
    target_inflight: int
    idle_seconds: int
    context_length: int
    max_output_tokens: int
    state: str
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    replicas: dict[str, int] = Field(default_factory=dict)
    """Live replicas by state (``GET /v1/deployments/{id}`` and the list)."""
    cold_start_ms: int | None = None
    """The median cold start of its replicas that became ready (null: none yet)."""

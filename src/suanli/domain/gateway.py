"""What the gateway needs to route one call: the deployment a key reaches by a model name and its ready
replicas (read in one query by :func:`suanli.store.inference_routes.route`)."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.domain.inference import DeploymentKind, Replica


@dataclass(frozen=True, slots=True)
class ModelRoute:
    id: str
    """The deployment's id."""
    name: str
    """The model name callers give (the deployment's name)."""
    kind: DeploymentKind
    max_output_tokens: int
    owner_id: str
    public: bool
    ready: tuple[Replica, ...]
    """Its replicas in state ``ready``, by id."""

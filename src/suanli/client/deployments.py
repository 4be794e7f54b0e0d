"""Model deployments and their replicas (docs/inference.md, "Deployments and replicas").

::

    with SuanliClient(server, token) as api:
        d = DeploymentClient(api).create({"name": "tiny", "model": "tiny-gpt",
                                          "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}],
                                          "min_replicas": 1, "max_replicas": 4})
        print([r.state for r in DeploymentClient(api).replicas(d.id)])
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from suanli.api.schemas.deployments import DeploymentResponse, ReplicaResponse
from suanli.client.errors import ApiNotFoundError
from suanli.client.http import Endpoints


def _id(deployment_id: str) -> str:
    return quote(deployment_id, safe="")


class DeploymentClient(Endpoints):

    def create(self, document: dict[str, Any]) -> DeploymentResponse:
        """Deploy a model (the operator: public, owned by the house tenant; a tenant: its own)."""
        return self._one(DeploymentResponse, "POST", "/v1/deployments", json=document)

    def all(self) -> list[DeploymentResponse]:
        return self._many(DeploymentResponse, "/v1/deployments")

    def get(self, deployment_id: str) -> DeploymentResponse:
        return self._one(DeploymentResponse, "GET", f"/v1/deployments/{_id(deployment_id)}")

    def find(self, name_or_id: str) -> DeploymentResponse:
        """By id (``dep_...``), else by name among the deployments the caller sees (its own first)."""
        if name_or_id.startswith("dep_"):
            return self.get(name_or_id)
        found = [d for d in self.all() if d.name == name_or_id]
        if not found:
            raise ApiNotFoundError(404, "not_found", f"no deployment named {name_or_id!r}", {"deployment": name_or_id})
        return found[0]

    def change(self, deployment_id: str, changes: dict[str, Any]) -> DeploymentResponse:
        return self._one(DeploymentResponse, "PATCH", f"/v1/deployments/{_id(deployment_id)}", json=changes)

    def delete(self, deployment_id: str) -> DeploymentResponse:
        return self._one(DeploymentResponse, "DELETE", f"/v1/deployments/{_id(deployment_id)}")

    def replicas(self, deployment_id: str, *, all_states: bool = False) -> list[ReplicaResponse]:
        return self._many(ReplicaResponse, f"/v1/deployments/{_id(deployment_id)}/replicas",
                          params={"all": "true"} if all_states else None)

"""Node agents, identity and the operator's side (docs/agents.md):

- ``POST /v1/agents/join`` (the join token in the body; no account) -> the node credential, once;
- ``POST /v1/agents/{node}/heartbeat`` (the node credential) -> state, timing, work generation;
- ``POST /v1/agents/join-tokens`` (operator, or a supplier for its own node) -> a join token, once;
- ``GET /v1/agents``, ``GET /v1/agents/{node}`` (operator; a supplier its own) with health now;
- ``POST /v1/agents/{node}/approve``, ``POST /v1/agents/{node}/revoke`` (operator).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from suanli.api.agent_auth import AgentNodeDep, NodePath
from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.agents import (
    AgentResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinRequest,
    JoinResponse,
    JoinTokenCreatedResponse,
    JoinTokenCreateRequest,
)
from suanli.api.schemas.common import ErrorResponse
from suanli.domain.agents import Telemetry
from suanli.service import agents
from suanli.service.platform import Platform

router = APIRouter(tags=["agents"])


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def agent_out(v: agents.AgentView) -> dict[str, Any]:
    a = v.agent
    return {"node": a.node, "site": a.site, "region": a.region, "supplier": a.supplier, "state": a.state.value,
            "health": v.health.value, "health_reason": v.health_reason, "last_seen_at": a.last_seen_at,
            "rtt_ms": a.rtt_ms, "version": a.version, "backend": a.backend,
            "slice_mechanisms": list(a.slice_mechanisms), "devices": [d.to_dict() for d in a.devices], "device_count": a.device_count, "address": a.address,
            "boot_id": a.boot_id, "credential_prefix": a.credential_prefix, "joined_at": a.joined_at,
            "approved_at": a.approved_at, "approved_by": a.approved_by,
            "telemetry": [t.__dict__ for t in a.telemetry]}


def _timing(p: Platform) -> dict[str, float]:
    c = p.settings
    return {"heartbeat_s": c.agent_heartbeat_s, "suspect_s": c.agent_suspect_s, "down_s": c.agent_down_s,
            "fence_s": c.agent_fence_s}


JOIN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Unauthenticated (`unauthenticated`): an unknown, used or expired "
                                                 "join token (audited)."},
    403: {"model": ErrorResponse, "description": "Forbidden (`forbidden`): the join token is another node's "
                                                 "(audited)."},
}
"""The join takes no account token, so the API's document would not list 401 and 403 for it by itself."""


@router.post("/v1/agents/join", response_model=JoinResponse, status_code=201, responses=JOIN_REFUSALS)
def join(body: JoinRequest, request: Request, p: PlatformDep) -> dict[str, Any]:
    """An agent joins with a one-time join token: its node credential is in this answer only. A used,
    expired or unknown token, another node's token, or devices that disagree with the fleet's node are
    refused (audited; nothing about the node changes)."""
    j = agents.join(p, token=body.token, node=body.node, agent_id=body.agent_id, boot_id=body.boot_id,
                    version=body.version, backend=body.backend, devices=[d.model_dump() for d in body.devices],
                    address=_address(request), slice_mechanisms=body.slice_mechanisms)
    return {"node": j.node, "credential": j.credential, "state": j.state.value, **_timing(p),
            "server_time": p.clock.now()}


@router.post("/v1/agents/{node}/heartbeat", response_model=HeartbeatResponse)
def heartbeat(node: NodePath, body: HeartbeatRequest, agent: AgentNodeDep, request: Request,
              p: PlatformDep) -> dict[str, Any]:
    """The agent is alive: last seen, RTT, boot id, address and each device's latest telemetry are
    noted. ``work`` changes when the node's leases or jobs change (0 while it is not approved)."""
    samples = [Telemetry(index=d.index, at=d.at or p.clock.now(), name=d.name, uuid=d.uuid,
                         utilisation_pct=d.utilisation_pct, memory_used_mib=d.memory_used_mib,
                         memory_total_mib=d.memory_total_mib, power_w=d.power_w, temperature_c=d.temperature_c,
                         errors=d.errors, energy_kwh=d.energy_kwh) for d in body.devices]
    beat = agents.heartbeat(p, agent, boot_id=body.boot_id, rtt_ms=body.rtt_ms, devices=samples,
                            address=_address(request), slice_mechanisms=body.slice_mechanisms)
    return {"state": beat.state.value, "server_time": beat.server_time, "heartbeat_s": p.settings.agent_heartbeat_s,
            "fence_s": p.settings.agent_fence_s, "work": beat.work}


@router.post("/v1/agents/join-tokens", response_model=JoinTokenCreatedResponse, status_code=201)
def create_join_token(body: JoinTokenCreateRequest, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """A one-time join token for a node (the operator: any node; a supplier: its own); its secret is in
    this answer only."""
    t = agents.create_join_token(p, who, body.node, body.ttl_s, body.approve)
    return {"id": t.id, "token": t.token, "node": t.node, "expires_at": t.expires_at, "approve": t.approve}


@router.get("/v1/agents", response_model=list[AgentResponse])
def list_agents(p: PlatformDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """Every agent node with its health now (a supplier: its own nodes)."""
    return [agent_out(v) for v in agents.list_agents(p, who)]


@router.get("/v1/agents/{node}", response_model=AgentResponse)
def get_agent(node: NodePath, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """One agent node with its health and latest telemetry."""
    return agent_out(agents.get_agent(p, who, node))


@router.post("/v1/agents/{node}/approve", response_model=AgentResponse)
def approve_agent(node: NodePath, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """The operator approves a joined agent: it gets work from now on."""
    return agent_out(agents.approve(p, who, node))


@router.post("/v1/agents/{node}/revoke", response_model=AgentResponse)
def revoke_agent(node: NodePath, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """The operator revokes an agent: its credential is refused from now on and its node is down."""
    return agent_out(agents.revoke(p, who, node))

"""The node credential on the agent routes ``/v1/agents/{node}/…`` (docs/agents.md, "Credentials").

:func:`agent_node` is the dependency: ``Authorization: Bearer sln_…`` must be the credential of the
path's node. Unknown (or an account token) -> 401; another node's -> 403, audited; revoked -> 403.
A pending agent passes (it heartbeats, gets no work). The node credential is no account token: the
account routes' :func:`suanli.api.deps.principal` does not know it (401).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from suanli.api.deps import platform
from suanli.api.middleware import mark_authenticated
from suanli.domain.agents import AgentNode
from suanli.domain.text import NAME_RULE
from suanli.service.agents import authenticate, record_refusal

NODE_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
NodePath = Annotated[str, Path(pattern=NODE_PATTERN, max_length=64, description=f"the node's name: {NAME_RULE}")]


def bearer_of(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def agent_node(request: Request, node: NodePath, authorization: Annotated[str | None, Header()] = None) -> AgentNode:
    """The agent of the path's node, authenticated by its node credential."""
    agent = authenticate(platform(request), bearer_of(authorization), node)
    mark_authenticated(request.state)  # the rate limiter's sign that this credential is a real one
    request.state.agent_node = agent  # a body refused after this is audited (suanli.api.app, refused_body)
    return agent


def refused_body(request: Request, message: str) -> None:
    """An authenticated agent's request body was refused (422): write it to the audit trail."""
    agent: AgentNode | None = getattr(request.state, "agent_node", None)
    if agent is not None:
        record_refusal(platform(request), agent.node, "422 " + message, credential=agent.credential_prefix)


AgentNodeDep = Annotated[AgentNode, Depends(agent_node)]

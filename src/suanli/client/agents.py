"""Node agents, the operator's and supplier's side: join tokens, the list of agents with their
health, approve, revoke (the agent's own calls are :mod:`suanli.client.agent_link`).

::

    with SuanliClient(server, token) as api:
        t = AgentClient(api).create_join_token("nx-910b-03", ttl_s=3600)
        print(t.token)  # the join token: shown in this answer only
"""

from __future__ import annotations

from urllib.parse import quote

from suanli.api.schemas.agents import AgentResponse, JoinTokenCreatedResponse
from suanli.client.http import Endpoints


def _node(node: str) -> str:
    return quote(node, safe="")


class AgentClient(Endpoints):

    def create_join_token(self, node: str, *, ttl_s: int = 3600, approve: bool = False) -> JoinTokenCreatedResponse:
        """A one-time join token for ``node`` (the operator: any node; a supplier: its own); ``approve``
        (operator only): the agent joining with it is approved at once."""
        return self._one(JoinTokenCreatedResponse, "POST", "/v1/agents/join-tokens",
                         json={"node": node, "ttl_s": ttl_s, "approve": approve})

    def agents(self) -> list[AgentResponse]:
        """Every agent node with its health now (a supplier: its own)."""
        return self._many(AgentResponse, "/v1/agents")

    def agent(self, node: str) -> AgentResponse:
        return self._one(AgentResponse, "GET", f"/v1/agents/{_node(node)}")

    def approve(self, node: str) -> AgentResponse:
        """The operator approves a joined agent: it gets work from now on."""
        return self._one(AgentResponse, "POST", f"/v1/agents/{_node(node)}/approve")

    def revoke(self, node: str) -> AgentResponse:
        """The operator revokes an agent: its credential is refused from now on."""
        return self._one(AgentResponse, "POST", f"/v1/agents/{_node(node)}/revoke")

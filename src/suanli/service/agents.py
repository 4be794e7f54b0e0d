"""Node agents, the server's side of their identity: join tokens, join, heartbeat, approve, revoke,
list/show with derived health, and the node credential's authentication (docs/agents.md).

- A join token (``slj_…``) is made by the operator for any node or by a supplier for its own; it is
  shown once, stored as a SHA-256 hash, used at most once (a conditional UPDATE) and expires.
- Joining with it issues the node credential (``sln_…``, shown once; a re-join replaces it). The
  agent is ``pending`` until the operator approves it (or the token pre-approved it).
- The credential acts for its own node only: unknown -> 401; another node's -> 403 (audited);
  revoked -> 403. A pending agent heartbeats (its liveness is seen) but gets no work.
- Every refusal on the agent routes is written to the audit trail in a transaction of its own
  (:func:`refuse`), and the refused request changes nothing about the node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.agents import (
    BACKENDS,
    CREDENTIAL_PREFIX,
    JOIN_TOKEN_PREFIX,
    JOIN_TTL_DEFAULT_S,
    AgentHealth,
    AgentNode,
    AgentState,
    Telemetry,
    check_join_ttl,
    check_telemetry,
)
from suanli.domain.authz import Action, authorize
from suanli.domain.slicing import Mechanism
from suanli.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    SuanliError,
    ValidationError,
)
from suanli.service import audit_context
from suanli.service.platform import Platform
from suanli.store import agent_work
from suanli.store import agents as store
from suanli.store import fleet as fleet_store


@dataclass(frozen=True)
class JoinTokenCreated:
    id: str
    token: str
    node: str
    expires_at: datetime
    approve: bool


@dataclass(frozen=True)
class Joined:
    node: str
    credential: str
    state: AgentState


@dataclass(frozen=True)
class Beat:
    state: AgentState
    server_time: datetime
    work: int


@dataclass(frozen=True)
class AgentView:
    """An agent with its health now (derived, never stored)."""

    agent: AgentNode
    health: AgentHealth
    health_reason: str


def record_refusal(p: Platform, node: str, reason: str, *, credential: str | None = None, by: str | None = None
                   ) -> None:
    """Write a refused agent call about ``node`` to the audit trail, in a transaction of its own (the
    refused request's own transaction is not opened, or rolls back). The actor is ``agent:<by>``, the
    node whose credential was used (default: the node named)."""
    base = audit_context.current_actor()
    actor = replace(base, account_id="", name=f"agent:{by or node}"[:120], role="agent",
                    token_prefix=(credential or "")[:10])
    with audit_context.system(), p.tx() as s:  # a refused GET is recorded too: it is not the read's data
        store.record_refusal(s, actor, node, reason, p.clock.now())


def refuse(p: Platform, error: SuanliError, node: str, *, credential: str | None = None, by: str | None = None
           ) -> NoReturn:
    """Record ``error`` as a refused agent call about ``node`` (:func:`record_refusal`), then raise it."""
    record_refusal(p, node, f"{error.status} {error.message}", credential=credential, by=by)
    raise error


def _bearer_ok(bearer: str | None) -> str:
    if not bearer:
        raise AuthenticationError(f"missing node credential: send 'Authorization: Bearer {CREDENTIAL_PREFIX}…'")
    if not bearer.startswith(CREDENTIAL_PREFIX):
        raise AuthenticationError(f"unknown node credential (agent routes take the node credential "
                                  f"{CREDENTIAL_PREFIX}… issued at join, not an account token)")
    return bearer


def authenticate(p: Platform, bearer: str | None, node: str | None = None) -> AgentNode:
    """The agent node a node credential belongs to. Unknown credential -> 401; revoked -> 403;
    ``node`` given and not the credential's own -> 403, audited. A pending agent is returned (it
    heartbeats but gets no work)."""
    credential = _bearer_ok(bearer)
    with p.read() as s:
        agent = store.by_credential(s, credential)
    if agent is None:
        raise AuthenticationError("unknown node credential (revoked by a re-join, or never issued)")
    if node is not None and agent.node != node:
        refuse(p, PermissionDeniedError(f"credential of node {agent.node} cannot act for node {node}",
                                        node=node, credential_node=agent.node), node, credential=credential,
               by=agent.node)
    if agent.state is AgentState.REVOKED:
        raise PermissionDeniedError(f"the agent of node {agent.node} was revoked; make a new join token and "
                                    "join again", node=agent.node)
    return agent


def _node_of(p: Platform, s: Session, actor: Principal, action: Action, node: str) -> tuple[str, int]:
    """The node's supplier and device count, if the actor may act on it (a supplier: its own, else 404)."""
    grant = authorize(actor, action)
    try:
        row = fleet_store.get_node_row(s, node)
    except NotFoundError:
        raise NotFoundError(f"no node {node!r}", node=node) from None
    if grant.supplier is not None and row.supplier != grant.supplier:
        raise NotFoundError(f"no node {node!r}", node=node)
    return row.supplier, row.device_count


def create_join_token(p: Platform, actor: Principal, node: str, ttl_s: int = JOIN_TTL_DEFAULT_S,
                      approve: bool = False) -> JoinTokenCreated:
    """A one-time join token for ``node`` (the operator: any node; a supplier: its own). ``approve``
    (operator only): the agent joining with it is approved at once."""
    check_join_ttl(ttl_s)
    grant = authorize(actor, Action.MANAGE_AGENT_TOKENS)
    if approve and grant.supplier is not None:
        raise PermissionDeniedError("only the operator may pre-approve an agent (approve: true); make the token "
                                    "without it and ask the operator to approve the agent", field="approve")
    now = p.clock.now()
    expires = now + timedelta(seconds=ttl_s)
    with p.tx() as s:
        _node_of(p, s, actor, Action.MANAGE_AGENT_TOKENS, node)
        token_id, secret = store.create_join_token(s, node, actor.name, now, expires, approve)
    p.agent_nodes_changed()  # the node is an agent node from now on: its work goes to the agent driver
    return JoinTokenCreated(token_id, secret, node, expires, approve)


def _check_devices(node: str, device_count: int, devices: Sequence[dict[str, Any]]) -> None:
    indices = [int(d.get("index", -1)) for d in devices]
    if len(set(indices)) != len(indices):
        raise ValidationError(f"devices: index repeated in {sorted(indices)}; each device once", field="devices")
    if len(devices) != device_count:
        raise ValidationError(f"the agent detected {len(devices)} device(s) but the fleet's node {node} has "
                              f"{device_count}; fix the node in the fleet or the agent's backend", field="devices",
                              node=node, detected=len(devices), fleet=device_count)


def _mechanisms(names: Sequence[str] | None) -> list[str] | None:
    """The slice mechanisms an agent reports (docs/slices.md); an unknown name is a 422 naming the allowed."""
    if names is None:
        return None
    bad = sorted({n for n in names if n not in {m.value for m in Mechanism}})
    if bad:
        raise ValidationError(f"slice_mechanisms: {', '.join(bad)} not known; allowed: "
                              f"{', '.join(m.value for m in Mechanism)}", field="slice_mechanisms")
    return sorted(set(names))


def join(p: Platform, *, token: str, node: str, agent_id: str, boot_id: str, version: str, backend: str,
         devices: Sequence[dict[str, Any]], address: str, slice_mechanisms: Sequence[str] | None = None) -> Joined:
    """Join with a join token: a new node credential (returned here only). Refusals are audited and
    change nothing. ``slice_mechanisms``: what the agent probed on its node (``None``: not reported = none)."""
    now = p.clock.now()
    try:
        mechs = _mechanisms(slice_mechanisms) or []
    except ValidationError as e:
        refuse(p, e, node)
    if backend not in BACKENDS:
        refuse(p, ValidationError(f"backend {backend!r} not allowed; allowed: {', '.join(BACKENDS)}",
                                  field="backend"), node)
    if not token.startswith(JOIN_TOKEN_PREFIX):
        refuse(p, AuthenticationError(f"unknown join token (join tokens start with {JOIN_TOKEN_PREFIX})"), node)
    credential = store.new_credential()
    try:
        with p.tx() as s:
            row = store.join_token(s, token)
            if row is None:
                raise AuthenticationError("unknown join token")
            if row.node != node:
                raise PermissionDeniedError(f"join token {row.prefix}… is for node {row.node}, not {node}",
                                            node=node, token_node=row.node)
            if row.used_at is not None:
                raise AuthenticationError(f"join token {row.prefix}… already used at {row.used_at.isoformat()}; "
                                          "make a new one", node=node)
            if row.expires_at <= now:
                raise AuthenticationError(f"join token {row.prefix}… expired at {row.expires_at.isoformat()}; "
                                          "make a new one", node=node)
            _, device_count = _fleet_node(s, node)
            _check_devices(node, device_count, devices)
            if not store.use_join_token(s, row.id, now):
                raise AuthenticationError(f"join token {row.prefix}… already used; make a new one", node=node)
            state = AgentState.APPROVED if row.approve else AgentState.PENDING
            store.join(s, node, credential=credential, state=state, agent_id=agent_id, boot_id=boot_id,
                       version=version, backend=backend, devices=[dict(d) for d in devices], address=address,
                       now=now, approved_by=row.created_by if state is AgentState.APPROVED else "",
                       slice_mechanisms=mechs)
    except SuanliError as e:
        refuse(p, e, node)
    p.agent_nodes_changed()  # what it reported and its state: read afresh by the next placement
    return Joined(node, credential, state)


def _fleet_node(s: Session, node: str) -> tuple[str, int]:
    try:
        row = fleet_store.get_node_row(s, node)
    except NotFoundError:
        raise NotFoundError(f"no node {node!r}", node=node) from None
    return row.supplier, row.device_count


def heartbeat(p: Platform, agent: AgentNode, *, boot_id: str, rtt_ms: Decimal | None,
              devices: Sequence[Telemetry], address: str, slice_mechanisms: Sequence[str] | None = None) -> Beat:
    """Note the agent's heartbeat: last seen (server time), RTT, boot id, address and the latest
    telemetry. Impossible telemetry is refused (422 naming the field and its range), audited, and
    nothing is stored."""
    now = p.clock.now()
    try:
        mechs = _mechanisms(slice_mechanisms)
        for t in devices:
            check_telemetry(t)
        indices = [t.index for t in devices]
        if len(set(indices)) != len(indices):
            raise ValidationError(f"devices: an index is repeated in {indices}; one sample per device", field="devices")
        beyond = sorted(i for i in indices if i >= agent.device_count)
        if beyond:
            raise ValidationError(f"devices: index {beyond[0]} is not a device of node {agent.node}; allowed: 0 to "
                                  f"{agent.device_count - 1}", field="devices", node=agent.node)
        if rtt_ms is not None and not (rtt_ms.is_finite() and Decimal(0) <= rtt_ms <= Decimal(600_000)):
            raise ValidationError(f"rtt_ms {rtt_ms} is impossible; allowed: 0 to 600000 ms or null", field="rtt_ms")
        with p.tx() as s:
            current = store.get_agent(s, agent.node, for_update=True)
            if current is None or current.state is AgentState.REVOKED:
                raise PermissionDeniedError(f"the agent of node {agent.node} was revoked", node=agent.node)
            store.touch(s, agent.node, now, rtt_ms, boot_id or None, address or None, mechs)
            store.upsert_telemetry(s, agent.node, devices, now)
            work = agent_work.generation(s, agent.node) if current.state is AgentState.APPROVED else 0
            state = current.state
            reported_anew = mechs is not None and tuple(mechs) != tuple(sorted(current.slice_mechanisms))
    except SuanliError as e:
        refuse(p, e, agent.node)
    if reported_anew:  # what it can enforce changed: read afresh by the next placement (its last heard
        p.agent_nodes_changed()  # time is as fresh as the platform's one-second cache, not read per beat)
    return Beat(state, now, work)


def view(p: Platform, agent: AgentNode) -> AgentView:
    cfg = p.settings
    health, reason = agent.health(p.clock.now(), cfg.agent_suspect_s, cfg.agent_down_s)
    return AgentView(agent, health, reason)


def list_agents(p: Platform, actor: Principal) -> list[AgentView]:
    """Every agent node (a supplier: its own) with its health now."""
    grant = authorize(actor, Action.READ_AGENTS)
    with p.tx() as s:
        agents = store.list_agents(s, supplier=grant.supplier)
    return [view(p, a) for a in agents]


def get_agent(p: Platform, actor: Principal, node: str) -> AgentView:
    grant = authorize(actor, Action.READ_AGENTS)
    with p.tx() as s:
        agent = store.get_agent(s, node)
    if agent is None or (grant.supplier is not None and agent.supplier != grant.supplier):
        raise NotFoundError(f"no agent for node {node!r}; make a join token for it first", node=node)
    return view(p, agent)


def _set_state(p: Platform, actor: Principal, node: str, state: AgentState) -> AgentView:
    authorize(actor, Action.MANAGE_AGENTS)
    now = p.clock.now()
    with p.tx() as s:
        agent = store.get_agent(s, node, for_update=True)
        if agent is None:
            raise NotFoundError(f"no agent for node {node!r}; make a join token for it first", node=node)
        if state is AgentState.APPROVED:
            if agent.state is AgentState.AWAITING_JOIN:
                raise ConflictError(f"the agent of node {node} has not joined yet; approve it after it joins",
                                    node=node)
            if agent.state is AgentState.REVOKED:
                raise ConflictError(f"the agent of node {node} was revoked; make a new join token, let it join "
                                    "again, then approve it", node=node)
        if agent.state is not state:
            store.set_state(s, node, state, now, by=actor.name)
        agent = store.get_agent(s, node)
    assert agent is not None
    p.agent_nodes_changed()
    return view(p, agent)


def approve(p: Platform, actor: Principal, node: str) -> AgentView:
    """The operator approves a joined agent: it gets work and its node counts as up while it heartbeats."""
    return _set_state(p, actor, node, AgentState.APPROVED)


def revoke(p: Platform, actor: Principal, node: str) -> AgentView:
    """The operator revokes an agent: its credential is refused from now on (403) and its node is down."""
    return _set_state(p, actor, node, AgentState.REVOKED)

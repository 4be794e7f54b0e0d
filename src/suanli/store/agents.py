"""Node agents' identity and latest telemetry: join tokens (one-time, by a conditional UPDATE),
agent nodes and their credentials (SHA-256 hashes only), heartbeats (:func:`touch`) and the latest
sample per device (:func:`upsert_telemetry`). Returns domain objects (:mod:`suanli.domain.agents`).

Refusals on agent routes are written to the audit trail by :func:`record_refusal`, in a transaction
of their own (the refused request's transaction rolls back with everything it would have changed).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from suanli.domain.agents import (
    CREDENTIAL_PREFIX,
    JOIN_TOKEN_PREFIX,
    AgentDevice,
    AgentNode,
    AgentState,
    Telemetry,
)
from suanli.domain.audit import AuditActor
from suanli.store.agent_tables import (
    AgentJoinTokenRow,
    AgentNodeRow,
    AgentTelemetryRow,
)
from suanli.store.audit import AuditEventRow
from suanli.store.tables import NodeRow, SiteRow

REFUSAL_OBJECT = "agent_refusals"
"""``object_type`` of the audit rows that record a refused agent call (``object_id``: the node)."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_join_token() -> str:
    return JOIN_TOKEN_PREFIX + secrets.token_urlsafe(24)  # 32 characters


def new_credential() -> str:
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(30)  # 40 characters


def _devices(raw: Any) -> tuple[AgentDevice, ...]:
    out = []
    for d in raw or []:
        if isinstance(d, dict):
            mem = d.get("memory_total_mib")
            out.append(AgentDevice(int(d.get("index", 0)), str(d.get("name", "")), str(d.get("uuid", "")),
                                   int(mem) if mem is not None else None))
    return tuple(out)


def _telemetry(r: AgentTelemetryRow) -> Telemetry:
    return Telemetry(r.device_index, r.at, r.name, r.uuid, r.utilisation_pct, r.memory_used_mib, r.memory_total_mib,
                     r.power_w, r.temperature_c, r.errors, r.energy_kwh)


_LISTED = (select(AgentNodeRow, NodeRow.site, SiteRow.region, NodeRow.supplier, NodeRow.device_count)
           .join(NodeRow, NodeRow.name == AgentNodeRow.node).join(SiteRow, SiteRow.name == NodeRow.site))


def _agent(r: AgentNodeRow, site: str, region: str, supplier: str, device_count: int,
           telemetry: tuple[Telemetry, ...] = ()) -> AgentNode:
    return AgentNode(r.node, AgentState(r.state), site, region, supplier, device_count, r.credential_prefix,
                     r.agent_id, r.boot_id, r.version, r.backend, _devices(r.devices), r.address, r.joined_at,
                     r.approved_at, r.approved_by, r.last_seen_at, r.rtt_ms, telemetry,
                     tuple(x for x in (r.slice_mechanisms or "").split(",") if x))


def _telemetry_of(s: Session, nodes: Iterable[str] | None) -> dict[str, list[Telemetry]]:
    q = select(AgentTelemetryRow).order_by(AgentTelemetryRow.node, AgentTelemetryRow.device_index)
    if nodes is not None:
        q = q.where(AgentTelemetryRow.node.in_(list(nodes)))
    out: dict[str, list[Telemetry]] = {}
    for r in s.scalars(q):
        out.setdefault(r.node, []).append(_telemetry(r))
    return out


def get_agent(s: Session, node: str, *, for_update: bool = False) -> AgentNode | None:
    """The agent node ``node`` with its latest telemetry, or ``None`` if it has no ``agent_nodes`` row."""
    q = _LISTED.where(AgentNodeRow.node == node)
    if for_update:
        q = q.with_for_update(of=AgentNodeRow)
    found = s.execute(q).one_or_none()
    if found is None:
        return None
    tel = _telemetry_of(s, [node]).get(node, [])
    return _agent(found[0], found[1], found[2], found[3], found[4], tuple(tel))


def list_agents(s: Session, *, supplier: str | None = None) -> list[AgentNode]:
    """Every agent node (a supplier's own only, if named), by node name, with their latest telemetry."""
    q = _LISTED.order_by(AgentNodeRow.node)
    if supplier is not None:
        q = q.where(NodeRow.supplier == supplier)
    rows = s.execute(q).all()
    tel = _telemetry_of(s, None if supplier is None else [r[0].node for r in rows])
    return [_agent(r[0], r[1], r[2], r[3], r[4], tuple(tel.get(r[0].node, []))) for r in rows]


def agent_reports(s: Session) -> list[tuple[str, AgentState, datetime | None, tuple[str, ...]]]:
    """Every agent node (whatever its state): its name, state, last heard time and the slice mechanisms it
    reported. One light query, cached by the platform (``Platform.agent_nodes``/``agent_reports``)."""
    rows = s.execute(select(AgentNodeRow.node, AgentNodeRow.state, AgentNodeRow.last_seen_at,
                            AgentNodeRow.slice_mechanisms))
    return [(node, AgentState(st), seen, tuple(x for x in (mechs or "").split(",") if x))
            for node, st, seen, mechs in rows]


def by_credential(s: Session, credential: str) -> AgentNode | None:
    """The agent node whose credential this is (any state; the caller decides), else ``None``."""
    found = s.execute(_LISTED.where(AgentNodeRow.credential_hash == hash_secret(credential))).one_or_none()
    return None if found is None else _agent(found[0], found[1], found[2], found[3], found[4])


def ensure_agent(s: Session, node: str, now: datetime) -> None:
    """An ``agent_nodes`` row for ``node`` (state ``awaiting_join``) if it has none yet."""
    if s.get(AgentNodeRow, node) is None:
        s.add(AgentNodeRow(node=node, state=AgentState.AWAITING_JOIN.value, credential_hash=None,
                           credential_prefix="", devices=[], updated_at=now))
        s.flush()


def create_join_token(s: Session, node: str, created_by: str, now: datetime, expires_at: datetime,
                      approve: bool) -> tuple[str, str]:
    """A new join token for ``node``: ``(id, secret)``; the secret is returned here only. ``approve``:
    an agent joining with it is approved at once."""
    ensure_agent(s, node, now)
    secret = new_join_token()
    token_id = "ajt_" + secrets.token_hex(8)
    s.add(AgentJoinTokenRow(id=token_id, token_hash=hash_secret(secret), prefix=secret[:10], node=node,
                            created_by=created_by, created_at=now, expires_at=expires_at, used_at=None,
                            approve=approve))
    s.flush()
    return token_id, secret


def join_token(s: Session, secret: str) -> AgentJoinTokenRow | None:
    return s.scalars(select(AgentJoinTokenRow).where(AgentJoinTokenRow.token_hash == hash_secret(secret))).first()


def use_join_token(s: Session, token_id: str, now: datetime) -> bool:
    """Mark the token used, once: ``False`` if another request used it first (conditional UPDATE)."""
    res = s.execute(update(AgentJoinTokenRow).where(AgentJoinTokenRow.id == token_id,
                                                    AgentJoinTokenRow.used_at.is_(None),
                                                    AgentJoinTokenRow.expires_at > now)
                    .values(used_at=now).execution_options(synchronize_session=False))
    return bool(getattr(res, "rowcount", 0) == 1)


def join(s: Session, node: str, *, credential: str, state: AgentState, agent_id: str, boot_id: str, version: str,
         backend: str, devices: list[dict[str, Any]], address: str, now: datetime, approved_by: str = "",
         slice_mechanisms: Sequence[str] = ()) -> None:
    """Record a join: a new credential (the old one stops working), the agent's identity and devices."""
    row = s.get(AgentNodeRow, node, with_for_update=True)
    if row is None:
        row = AgentNodeRow(node=node, state=state.value, updated_at=now)
        s.add(row)
    row.state = state.value
    row.credential_hash = hash_secret(credential)
    row.credential_prefix = credential[:10]
    row.agent_id, row.boot_id, row.version, row.backend = agent_id, boot_id, version, backend
    row.devices = devices
    row.slice_mechanisms = ",".join(sorted(set(slice_mechanisms)))
    row.address = address
    row.joined_at = now
    row.last_seen_at = now
    if state is AgentState.APPROVED:
        row.approved_at, row.approved_by = now, approved_by
    else:
        row.approved_at, row.approved_by = None, ""
    row.updated_at = now
    s.flush()


def set_state(s: Session, node: str, state: AgentState, now: datetime, *, by: str = "") -> None:
    row = s.get(AgentNodeRow, node, with_for_update=True)
    assert row is not None
    row.state = state.value
    if state is AgentState.APPROVED:
        row.approved_at, row.approved_by = now, by
    row.updated_at = now
    s.flush()


def touch(s: Session, node: str, at: datetime, rtt_ms: Decimal | None, boot_id: str | None,
          address: str | None, slice_mechanisms: Sequence[str] | None = None) -> None:
    """A heartbeat (or a report) was heard from ``node`` at server time ``at``: note it, with the RTT
    the agent measured, its boot id and its address (``None``: leave as is)."""
    values: dict[str, Any] = {"last_seen_at": at, "updated_at": at}
    if slice_mechanisms is not None:
        values["slice_mechanisms"] = ",".join(sorted(set(slice_mechanisms)))
    if rtt_ms is not None:
        values["rtt_ms"] = rtt_ms
    if boot_id is not None:
        values["boot_id"] = boot_id
    if address is not None:
        values["address"] = address
    s.execute(update(AgentNodeRow).where(AgentNodeRow.node == node).values(**values)
              .execution_options(synchronize_session=False))


def upsert_telemetry(s: Session, node: str, samples: Iterable[Telemetry], at: datetime) -> None:
    """The latest sample of each device of ``node`` (``at``: server time, used when a sample has none)."""
    have = {r.device_index: r for r in s.scalars(select(AgentTelemetryRow).where(AgentTelemetryRow.node == node))}
    for t in samples:
        row = have.get(t.index)
        if row is None:
            row = AgentTelemetryRow(node=node, device_index=t.index, at=t.at or at)
            s.add(row)
        row.at = t.at or at
        row.name, row.uuid = t.name, t.uuid
        row.utilisation_pct, row.memory_used_mib, row.memory_total_mib = (t.utilisation_pct, t.memory_used_mib,
                                                                          t.memory_total_mib)
        row.power_w, row.temperature_c, row.errors, row.energy_kwh = t.power_w, t.temperature_c, t.errors, t.energy_kwh
    s.flush()


def record_refusal(s: Session, actor: AuditActor, node: str, reason: str, at: datetime) -> None:
    """An audit row for a refused agent call (``object_type`` :data:`REFUSAL_OBJECT`, ``object_id`` the
    node it named, the reason under ``refused``). Written in its own transaction by the service."""
    s.execute(insert(AuditEventRow).values(
        at=at, actor_id=actor.account_id, actor_name=actor.name, actor_role=actor.role,
        token_prefix=actor.token_prefix, address=actor.address[:64], method=actor.method[:8], path=actor.path[:400],
        action="create", object_type=REFUSAL_OBJECT, object_id=node[:200], tenant_id=None,
        changes={"refused": [None, reason[:400]]}))


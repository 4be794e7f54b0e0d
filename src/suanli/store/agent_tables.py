"""Tables of node agents (migration 0027): join tokens, the agents and their credentials, the work
the server has for each agent node (leases, jobs), what agents report back (job states, logs, usage)
and the latest telemetry of each device.

Invariants held by the database:
- a join token is used at most once (``used_at`` is set by a conditional UPDATE), its hash is unique;
- one agent per node (``agent_nodes.node`` is the key), a credential hash is unique;
- a job's usage record is stored once (``agent_usage.job_id`` is the key: a report sent again is a no-op);
- telemetry keeps the latest sample per (node, device); history goes to the capacity series.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime

AGENT_STATES = ("awaiting_join", "pending", "approved", "revoked")
"""``awaiting_join``: a join token exists, no agent joined yet; ``pending``: joined, not yet approved
by the operator; ``approved``: gets work; ``revoked``: its credential is refused."""


class AgentJoinTokenRow(Base):
    __tablename__ = "agent_join_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), index=True)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approve: Mapped[bool] = mapped_column(Boolean, default=False)
    """An agent joining with this token is approved at once (the operator's choice at creation)."""


class AgentNodeRow(Base):
    __tablename__ = "agent_nodes"
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    credential_prefix: Mapped[str] = mapped_column(String(16), default="")
    agent_id: Mapped[str] = mapped_column(String(64), default="")
    """The installation's own id (generated once by the agent, kept in its state file)."""
    boot_id: Mapped[str] = mapped_column(String(64), default="")
    """Changes at every agent start: a new boot id is a restart."""
    version: Mapped[str] = mapped_column(String(64), default="")
    backend: Mapped[str] = mapped_column(String(16), default="")
    """Telemetry backend: nvml, npu-smi, cnmon, hy-smi or none."""
    slice_mechanisms: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """Slice mechanisms the agent probed on its node (comma list; migration 0034): docs/slices.md."""
    devices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Devices the agent detected at join: [{index, name, uuid, memory_total_mib}]."""
    address: Mapped[str] = mapped_column(String(64), default="")
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by: Mapped[str] = mapped_column(String(32), default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Server time of the last authenticated call of the agent (heartbeat, work or report)."""
    rtt_ms: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    """Round-trip time agent -> server -> agent the agent measured (a moving median), ms."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("state in ('awaiting_join','pending','approved','revoked')", name="ck_agent_nodes_state"),
    )


class AgentLeaseRow(Base):
    """The lease's allocation on this agent node, as the engine should hold it."""
    __tablename__ = "agent_leases"
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), primary_key=True)
    lease_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    grant: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``LeaseGrant.to_dict()`` restricted to this node's allocation."""
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_agent_leases_lease", "lease_id"),)


class AgentJobRow(Base):
    __tablename__ = "agent_jobs"
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lease_id: Mapped[str] = mapped_column(String(32), index=True)
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    devices: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))
    """The agent's last report (``pending`` until it has one); terminal states never change."""
    device_indices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(String(400), default="")
    stdout: Mapped[str] = mapped_column(Text, default="")
    stderr: Mapped[str] = mapped_column(Text, default="")
    """Log tails as the agent last sent them (bounded by the agent)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentUsageRow(Base):
    __tablename__ = "agent_usage"
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lease_id: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), index=True)
    device_indices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    devices: Mapped[int] = mapped_column(Integer)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_seconds: Mapped[Decimal] = mapped_column(DecimalText)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentTelemetryRow(Base):
    """The latest sample of each device of an agent node."""
    __tablename__ = "agent_telemetry"
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), primary_key=True)
    device_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(120), default="")
    uuid: Mapped[str] = mapped_column(String(120), default="")
    utilisation_pct: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_used_mib: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_total_mib: Mapped[int | None] = mapped_column(Integer, nullable=True)
    power_w: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    temperature_c: Mapped[int | None] = mapped_column(Integer, nullable=True)
    errors: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Uncorrected memory (ECC) errors since the driver loaded, where the device reports them."""
    energy_kwh: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    """The device's cumulative energy counter, where it has one."""
    __table_args__ = (
        CheckConstraint("utilisation_pct is null or (utilisation_pct >= 0 and utilisation_pct <= 100)",
                        name="ck_agent_telemetry_util"),
    )

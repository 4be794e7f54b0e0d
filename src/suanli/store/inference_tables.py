"""Tables of the inference service (migration 0028): model deployments, their replicas, one row per
metered gateway request, and each inference key's tokens per month.

Invariants held by the database:
- a deployment's name is unique per owner (``uq_inference_deployments_owner_name``);
- a request is metered once: ``inference_requests.id`` is the request id (the gateway's usage events
  carry the same id, and ``usage_events (source, id)`` is unique as well);
- a key's monthly tokens are one row per (token, month), incremented in the metering transaction.
Prompts and completions are never stored: only their token counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import UTCDateTime

DEPLOYMENT_STATES = ("active", "deleted")
REPLICA_STATES = ("pending", "starting", "ready", "unhealthy", "draining", "stopped", "failed")
REQUEST_STATUSES = ("ok", "failed", "abandoned")


class InferenceDeploymentRow(Base):
    __tablename__ = "inference_deployments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    """The tenant account that orders (and pays for) the replicas' leases."""
    name: Mapped[str] = mapped_column(String(64))
    """The name callers give as ``model``."""
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    """Every tenant's key may call it (the operator's deployments); else only its owner's keys."""
    kind: Mapped[str] = mapped_column(String(16))
    """generate | embed"""
    runtime: Mapped[str] = mapped_column(String(16))
    """builtin | vllm | llamacpp"""
    model_ref: Mapped[str] = mapped_column(String(200))
    shapes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Candidate replica shapes, each an order spec fragment (see docs/inference.md)."""
    near: Mapped[str] = mapped_column(String(64), default="")
    max_rtt_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_replicas: Mapped[int] = mapped_column(Integer)
    max_replicas: Mapped[int] = mapped_column(Integer)
    desired_replicas: Mapped[int] = mapped_column(Integer)
    target_inflight: Mapped[int] = mapped_column(Integer)
    idle_seconds: Mapped[int] = mapped_column(Integer)
    context_length: Mapped[int] = mapped_column(Integer)
    max_output_tokens: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_inference_deployments_owner_name"),
        CheckConstraint("state in ('active','deleted')", name="ck_inference_deployments_state"),
        CheckConstraint("min_replicas >= 0 and min_replicas <= max_replicas and desired_replicas >= 0",
                        name="ck_inference_deployments_replicas"),
    )


class InferenceReplicaRow(Base):
    __tablename__ = "inference_replicas"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("inference_deployments.id"))
    lease_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    node: Mapped[str] = mapped_column(String(120), default="")
    hardware: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(600), default="")
    reason: Mapped[str] = mapped_column(String(600), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cold_start_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    __table_args__ = (
        Index("ix_inference_replicas_deployment_state", "deployment_id", "state"),
        CheckConstraint("state in ('pending','starting','ready','unhealthy','draining','stopped','failed')",
                        name="ck_inference_replicas_state"),
    )


class InferenceRequestRow(Base):
    __tablename__ = "inference_requests"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    deployment_id: Mapped[str] = mapped_column(String(40))
    replica_id: Mapped[str] = mapped_column(String(40), default="")
    model: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(16))
    """chat | completion | embedding"""
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_token_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_inference_requests_tenant_started", "tenant_id", "started_at"),
        Index("ix_inference_requests_token_started", "token_id", "started_at"),
        Index("ix_inference_requests_deployment_started", "deployment_id", "started_at"),
        CheckConstraint("status in ('ok','failed','abandoned')", name="ck_inference_requests_status"),
        CheckConstraint("prompt_tokens >= 0 and completion_tokens >= 0 and cached_tokens >= 0 "
                        "and cached_tokens <= prompt_tokens", name="ck_inference_requests_tokens"),
    )


class InferenceKeyUsageRow(Base):
    __tablename__ = "inference_key_usage"
    token_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    """The UTC month, ``YYYY-MM``."""
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)

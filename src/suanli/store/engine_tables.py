"""Tables of the engine side of leases: provisioning state, jobs, SLA credits, usage cursors.

Invariants kept by the database:
- ``lease_engine.lease_id`` is the primary key: one engine mirror per lease.
- ``jobs (driver, driver_job_id)`` unique: an engine job is recorded once.
- ``sla_credits (lease_id, start)`` unique: one credit per interruption, however often the
  reconciler runs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime


class LeaseEngineRow(Base):
    """What the engine holds for a lease. ``state``: provisioned | released | error."""

    __tablename__ = "lease_engine"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True)
    driver: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    engine_ref: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    driver: Mapped[str] = mapped_column(String(32))
    driver_job_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    command: Mapped[list[str]] = mapped_column(JSON)
    node: Mapped[str | None] = mapped_column(String(120), nullable=True)
    devices: Mapped[int] = mapped_column(Integer)
    device_indices: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_seconds: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    __table_args__ = (UniqueConstraint("driver", "driver_job_id", name="uq_jobs_driver_job"),)


class SlaCreditRow(Base):
    __tablename__ = "sla_credits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("lease_id", "start", name="uq_sla_credits_lease_start"),)


class EngineCursorRow(Base):
    """How far usage has been read from each driver (usage records never change once read)."""

    __tablename__ = "engine_cursors"
    driver: Mapped[str] = mapped_column(String(32), primary_key=True)
    usage_since: Mapped[datetime] = mapped_column(UTCDateTime)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

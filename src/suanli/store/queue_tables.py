"""Tables of the order queue (migration 0032; docs/queue.md).

Invariants held by the database:
- an order's ``status`` is one of fulfilled, rejected, cancelled, queued (``ck_orders_status``: a
  CHECK on PostgreSQL, triggers on SQLite);
- one queue row per order (``order_queue.order_id`` is the key); its priority and state are from
  fixed sets and its deadline is after its arrival;
- one fair-share weight per tenant; one preemption notice per lease.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime


class OrderQueueRow(Base):
    __tablename__ = "order_queue"
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    """The account that placed the order: the queue places it as that account."""
    priority: Mapped[str] = mapped_column(String(8))
    wait_until: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12))
    """waiting, granted, expired (deadline passed), cancelled"""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        CheckConstraint("priority in ('high','normal','low')", name="ck_order_queue_priority"),
        CheckConstraint("state in ('waiting','granted','expired','cancelled')", name="ck_order_queue_state"),
        CheckConstraint("wait_until > queued_at", name="ck_order_queue_deadline"),
        Index("ix_order_queue_state", "state", "priority", "queued_at"),
    )


class QueueWeightRow(Base):
    __tablename__ = "queue_weights"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    weight: Mapped[Decimal] = mapped_column(DecimalText)
    allow_high: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpotPreemptionRow(Base):
    __tablename__ = "spot_preemptions"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id"), primary_key=True)
    for_order: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    noticed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    preempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The lease ends at this instant (never billed after it)."""
    done: Mapped[bool] = mapped_column(Boolean)
    __table_args__ = (CheckConstraint("preempt_at >= noticed_at", name="ck_spot_preemptions_notice"),)

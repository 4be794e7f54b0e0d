"""Tables of oversubscription (migration 0031; docs/slices.md "Oversubscription").

Invariants:
- ``oversub_factors`` is append-only: a change is a new row (who, when); the row in force for a
  (site, model) at ``t`` is the latest with ``set_at <= t``. A change applies to new grants only.
- ``burstable_leases``: one row per burstable slice lease, written in the transaction of its first
  grant; it fixes the sold share and the terms (factor, discount) for the life of the lease. The
  capacity charge the database counts is the allocation's ``milli`` (``allocations``).
- ``burstable_contention``: per device of the burstable pool, telemetry samples counted once each
  (``last_at`` is the latest counted sample; ``saturated <= samples``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime


class OversubFactorRow(Base):
    __tablename__ = "oversub_factors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    factor: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    discount_pct: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    offered: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_oversub_factors_site_model", "site", "model", "set_at"),)


class BurstableLeaseRow(Base):
    __tablename__ = "burstable_leases"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True)
    sold_milli: Mapped[int] = mapped_column(Integer)
    """The share sold and billed (before the discount): the slice's dominant share, as a guaranteed one."""
    compute_milli: Mapped[int] = mapped_column(Integer)
    """The compute share the job may burst up to (its limit)."""
    factor: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    discount_pct: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    factor_id: Mapped[int] = mapped_column(ForeignKey("oversub_factors.id"))
    __table_args__ = (
        CheckConstraint("sold_milli >= 1 and sold_milli <= 1000", name="ck_burstable_leases_sold"),
        CheckConstraint("compute_milli >= 1 and compute_milli <= sold_milli", name="ck_burstable_leases_compute"),
    )


class BurstableContentionRow(Base):
    __tablename__ = "burstable_contention"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    saturated: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("saturated >= 0 and saturated <= samples",
                                      name="ck_burstable_contention_counts"),)

"""Tables of defragmentation (migration 0033; docs/defrag.md).

Invariants:
- ``defrag_settings`` is append-only: a change is a new row (who, when); the latest row is in force;
  none: auto off, the default notice and a 0 % discount (:mod:`suanli.domain.defrag`).
- ``migratable_leases``: one row per migratable lease, written with its first grant; it fixes the
  discount and the notice the lease was sold with.
- ``defrag_plans`` / ``defrag_moves``: a plan and its moves, each in one of the states of
  :class:`suanli.domain.defrag.PlanState`; the database refuses a second *open* move
  (proposed/approved/notified/moving) of one lease (partial unique index).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime

_STATES = "('proposed', 'approved', 'notified', 'moving', 'done', 'failed', 'cancelled')"
_OPEN = "state IN ('proposed', 'approved', 'notified', 'moving')"


class DefragSettingRow(Base):
    __tablename__ = "defrag_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    auto: Mapped[bool] = mapped_column(Boolean)
    notice_s: Mapped[int] = mapped_column(Integer)
    discount_pct: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("notice_s >= 0 and notice_s <= 86400", name="ck_defrag_settings_notice"),)


class MigratableLeaseRow(Base):
    __tablename__ = "migratable_leases"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True)
    discount_pct: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    notice_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DefragPlanRow(Base):
    __tablename__ = "defrag_plans"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    auto: Mapped[bool] = mapped_column(Boolean)
    targets: Mapped[str] = mapped_column(Text)
    """JSON: per target, its words (the order or shape) and what the plan does for it."""
    summary: Mapped[str] = mapped_column(Text)
    notice_s: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (CheckConstraint(f"state IN {_STATES}", name="ck_defrag_plans_state"),)


class DefragMoveRow(Base):
    __tablename__ = "defrag_moves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("defrag_plans.id", ondelete="CASCADE"))
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id"))
    state: Mapped[str] = mapped_column(String(16))
    old_devices: Mapped[str] = mapped_column(Text)
    """JSON list of device ids the lease holds when planned."""
    new_grants: Mapped[str] = mapped_column(Text)
    """JSON list of [device id, milli, memory MiB]: where it goes."""
    frees: Mapped[str] = mapped_column(Text)
    """What the move frees, in words (target and node)."""
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(f"state IN {_STATES}", name="ck_defrag_moves_state"),
        Index("ix_defrag_moves_plan", "plan_id"),
        Index("ux_defrag_moves_open_lease", "lease_id", unique=True, sqlite_where=text(_OPEN),
              postgresql_where=text(_OPEN)),
    )

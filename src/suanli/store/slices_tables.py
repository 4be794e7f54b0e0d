"""Tables of enforced slices (migration 0030).

- ``slice_grants``: one row per slice lease: how it is enforced (``mig:1g.10gb``, ``mps``, ``hami``,
  ``vnpu:vir05_1c_16g``, ``none``) and the limits its jobs receive (compute %, device memory MiB).
- ``mig_instances``: the MIG layout: one row per allocation of a MIG slice, its profile and the memory
  slices ``[start_slot, start_slot + span)`` it occupies on the device. The database refuses an instance
  overlapping another instance of the same device whose allocation window overlaps its own
  (:mod:`suanli.store.slices`: triggers on SQLite and PostgreSQL; zero-length allocations do not count).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base


class SliceGrantRow(Base):
    __tablename__ = "slice_grants"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True)
    enforcement: Mapped[str] = mapped_column(String(40))
    share_pct: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("share_pct >= 1 and share_pct <= 100", name="ck_slice_grants_share"),
                      CheckConstraint("memory_mib >= 1", name="ck_slice_grants_memory"))


class MigInstanceRow(Base):
    __tablename__ = "mig_instances"
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    profile: Mapped[str] = mapped_column(String(16))
    start_slot: Mapped[int] = mapped_column(Integer)
    span: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("start_slot >= 0 and span >= 1 and start_slot + span <= 8",
                                      name="ck_mig_instances_slots"),)

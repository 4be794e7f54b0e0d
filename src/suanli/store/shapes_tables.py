"""Tables of custom shapes (migration 0029; docs/orders.md "Custom shapes", docs/billing.md "Resource prices").

Invariants kept by the database:
- ``node_allocations``: what a lease holds of a node's host resources (CPU milli-cores, RAM MiB,
  NIC Mbps, local disk GiB) over ``[start_at, end_at)``. At every instant, each resource summed over
  the node's rows whose window contains it is at most the node's capacity (cores × 1000, GiB × 1024,
  Gbps × 1000, floor(disk GB × 10^9 ÷ 2^30)): triggers on SQLite and PostgreSQL
  (:mod:`suanli.store.shapes`). Zero-length rows (``end_at = start_at``) are not counted; rows are
  never deleted. The ``extra_*`` columns are the part above the devices' proportional share: what is
  billed at resource prices (never more than the hold: a CHECK).
- ``resource_prices``: effective-dated list prices per resource (and site, ``*`` for all sites);
  ``(resource, site, effective_from)`` unique; never effective before the instant it is set (service).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime


class NodeAllocationRow(Base):
    __tablename__ = "node_allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    cpu_milli: Mapped[int] = mapped_column(Integer)
    ram_mib: Mapped[int] = mapped_column(Integer)
    nic_mbps: Mapped[int] = mapped_column(Integer)
    disk_gib: Mapped[int] = mapped_column(Integer)
    extra_cpu_milli: Mapped[int] = mapped_column(Integer)
    extra_ram_mib: Mapped[int] = mapped_column(Integer)
    extra_nic_mbps: Mapped[int] = mapped_column(Integer)
    extra_disk_gib: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        CheckConstraint("cpu_milli >= 0 and ram_mib >= 0 and nic_mbps >= 0 and disk_gib >= 0",
                        name="ck_node_allocations_amounts"),
        CheckConstraint("extra_cpu_milli >= 0 and extra_cpu_milli <= cpu_milli and extra_ram_mib >= 0 "
                        "and extra_ram_mib <= ram_mib and extra_nic_mbps >= 0 and extra_nic_mbps <= nic_mbps "
                        "and extra_disk_gib >= 0 and extra_disk_gib <= disk_gib", name="ck_node_allocations_extra"),
        CheckConstraint("end_at is null or end_at >= start_at", name="ck_node_allocations_window"),
        Index("ix_node_allocations_node_window", "node_id", "start_at"),
    )


class ResourcePriceRow(Base):
    __tablename__ = "resource_prices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(DecimalText(length=64))
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("resource", "site", "effective_from", name="uq_resource_prices_resource_site_from"),
        CheckConstraint("resource in ('cpu_core_hour','ram_gib_hour','nic_gbps_hour','disk_gib_month')",
                        name="ck_resource_prices_resource"),
    )

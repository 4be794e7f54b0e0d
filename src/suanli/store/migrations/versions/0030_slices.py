"""enforced slices (SLICES part): slice_grants (each slice lease's enforcement and limits) and
mig_instances (the MIG layout: profile and memory slices per allocation, overlaps refused by triggers)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from suanli.store import slices

    op.create_table(
        "slice_grants",
        sa.Column("lease_id", sa.String(32), sa.ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("enforcement", sa.String(40), nullable=False),
        sa.Column("share_pct", sa.Integer(), nullable=False),
        sa.Column("memory_mib", sa.Integer(), nullable=False),
        sa.CheckConstraint("share_pct >= 1 and share_pct <= 100", name="ck_slice_grants_share"),
        sa.CheckConstraint("memory_mib >= 1", name="ck_slice_grants_memory"),
    )
    op.create_table(
        "mig_instances",
        sa.Column("allocation_id", sa.Integer(), sa.ForeignKey("allocations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("start_slot", sa.Integer(), nullable=False),
        sa.Column("span", sa.Integer(), nullable=False),
        sa.CheckConstraint("start_slot >= 0 and span >= 1 and start_slot + span <= 8", name="ck_mig_instances_slots"),
    )
    op.create_index("ix_mig_instances_device_id", "mig_instances", ["device_id"])
    slices.install(op.get_bind())


def downgrade() -> None:
    from suanli.store import slices

    slices.uninstall(op.get_bind())
    op.drop_index("ix_mig_instances_device_id", table_name="mig_instances")
    op.drop_table("mig_instances")
    op.drop_table("slice_grants")

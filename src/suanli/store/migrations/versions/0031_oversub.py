"""oversubscription of compute share (OVERSUB part): oversub_factors (the operator's per-site,
per-model factor and burstable discount, one row per change: history kept), burstable_leases (a
burstable slice's sold share and the terms fixed at its first grant), burstable_contention
(telemetry samples of burstable-pool devices, counted by the background pass)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import DecimalText, UTCDateTime

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oversub_factors",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("factor", DecimalText(length=64), nullable=False),
        sa.Column("discount_pct", DecimalText(length=64), nullable=False),
        sa.Column("offered", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(120), nullable=False),
        sa.Column("set_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oversub_factors_site_model", "oversub_factors", ["site", "model", "set_at"])
    op.create_table(
        "burstable_leases",
        sa.Column("lease_id", sa.String(32), sa.ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sold_milli", sa.Integer(), nullable=False),
        sa.Column("compute_milli", sa.Integer(), nullable=False),
        sa.Column("factor", DecimalText(length=64), nullable=False),
        sa.Column("discount_pct", DecimalText(length=64), nullable=False),
        sa.Column("factor_id", sa.Integer(), sa.ForeignKey("oversub_factors.id"), nullable=False),
        sa.CheckConstraint("sold_milli >= 1 and sold_milli <= 1000", name="ck_burstable_leases_sold"),
        sa.CheckConstraint("compute_milli >= 1 and compute_milli <= sold_milli",
                           name="ck_burstable_leases_compute"),
    )
    op.create_table(
        "burstable_contention",
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("saturated", sa.Integer(), nullable=False),
        sa.Column("last_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("saturated >= 0 and saturated <= samples", name="ck_burstable_contention_counts"),
    )


def downgrade() -> None:
    op.drop_table("burstable_contention")
    op.drop_table("burstable_leases")
    op.drop_index("ix_oversub_factors_site_model", table_name="oversub_factors")
    op.drop_table("oversub_factors")

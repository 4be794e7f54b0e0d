"""order quotes (Trust II): lease_quotes, a lease's rate per (model, site) from its grant

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lease_quotes",
        sa.Column("lease_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("valid_from", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("device_hour", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("list_device_hour", suanli.store.types.DecimalText(length=64), nullable=True),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("binding", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quoted_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("basis in ('plan_rate','commit_price','list')", name="ck_lease_quotes_basis"),
        sa.ForeignKeyConstraint(["lease_id"], ["leases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lease_id", "model", "site", "valid_from"),
    )


def downgrade() -> None:
    op.drop_table("lease_quotes")

"""capacity time series (CAP): capacity_samples, one row per node and span at a resolution (raw, hour, day)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import DecimalText, UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_INTEGRALS = ("available", "down", "allocated", "rented", "fragmented", "unrented", "busy", "measured",
              "it_kwh", "measured_kwh", "facility_kwh", "power_cost")


def upgrade() -> None:
    op.create_table(
        "capacity_samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resolution", sa.String(8), nullable=False),
        sa.Column("bucket_start", UTCDateTime, nullable=False),
        sa.Column("seconds", DecimalText, nullable=False),
        sa.Column("node", sa.String(120), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("supplier", sa.String(64), nullable=False),
        sa.Column("devices", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        *[sa.Column(name, DecimalText, nullable=False) for name in _INTEGRALS],
        sa.UniqueConstraint("resolution", "bucket_start", "node", name="uq_capacity_samples_key"),
        sa.CheckConstraint("resolution in ('raw','hour','day')", name="ck_capacity_samples_resolution"),
    )
    op.create_index("ix_capacity_samples_time", "capacity_samples", ["resolution", "bucket_start"])


def downgrade() -> None:
    op.drop_index("ix_capacity_samples_time", table_name="capacity_samples")
    op.drop_table("capacity_samples")

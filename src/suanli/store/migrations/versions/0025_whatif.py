"""what-if runs (WHATIF): whatif_runs (state, progress, parameters, result, heartbeat of the process running it)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import DecimalText, UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatif_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", DecimalText(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("estimate_seconds", DecimalText(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("replica", sa.String(64), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.CheckConstraint("state in ('queued','running','done','failed','cancelled')", name="ck_whatif_runs_state"),
        sa.UniqueConstraint("seq", name="uq_whatif_runs_seq"),
    )
    op.create_index("ix_whatif_runs_state", "whatif_runs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_whatif_runs_state", table_name="whatif_runs")
    op.drop_table("whatif_runs")

"""defragmentation (DEFRAG part): defrag_settings (the operator's auto switch, notice and migratable
discount; one row per change, history kept), migratable_leases (a migratable lease's class and the
discount fixed at its first grant), defrag_plans and defrag_moves (proposed → approved → notified →
moving → done | failed | cancelled; who approved and when; at most one open move per lease)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import DecimalText, UTCDateTime

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

STATES = "('proposed', 'approved', 'notified', 'moving', 'done', 'failed', 'cancelled')"
OPEN = "state IN ('proposed', 'approved', 'notified', 'moving')"


def upgrade() -> None:
    op.create_table(
        "defrag_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("notice_s", sa.Integer(), nullable=False),
        sa.Column("discount_pct", DecimalText(length=64), nullable=False),
        sa.Column("set_by", sa.String(120), nullable=False),
        sa.Column("set_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("notice_s >= 0 and notice_s <= 86400", name="ck_defrag_settings_notice"),
    )
    op.create_table(
        "migratable_leases",
        sa.Column("lease_id", sa.String(32), sa.ForeignKey("leases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("discount_pct", DecimalText(length=64), nullable=False),
        sa.Column("notice_s", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "defrag_plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("notice_s", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(120), nullable=True),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"state IN {STATES}", name="ck_defrag_plans_state"),
    )
    op.create_table(
        "defrag_moves",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.String(32), sa.ForeignKey("defrag_plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lease_id", sa.String(32), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("old_devices", sa.Text(), nullable=False),
        sa.Column("new_grants", sa.Text(), nullable=False),
        sa.Column("frees", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(f"state IN {STATES}", name="ck_defrag_moves_state"),
    )
    op.create_index("ix_defrag_moves_plan", "defrag_moves", ["plan_id"])
    op.create_index("ux_defrag_moves_open_lease", "defrag_moves", ["lease_id"], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index("ux_defrag_moves_open_lease", table_name="defrag_moves")
    op.drop_index("ix_defrag_moves_plan", table_name="defrag_moves")
    op.drop_table("defrag_moves")
    op.drop_table("defrag_plans")
    op.drop_table("migratable_leases")
    op.drop_table("defrag_settings")

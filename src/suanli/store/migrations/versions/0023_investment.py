"""investment economics inputs (ECON): capex per node, fixed opex per site, global appraisal settings

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _dec(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, suanli.store.types.DecimalText(length=64), nullable=False)


def upgrade() -> None:
    op.create_table(
        "node_capex",
        sa.Column("node", sa.String(length=120), sa.ForeignKey("nodes.name"), nullable=False),
        _dec("capex"), _dec("residual"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )
    op.create_table(
        "site_opex",
        sa.Column("site", sa.String(length=64), sa.ForeignKey("sites.name"), nullable=False),
        _dec("staff"), _dec("racks"), _dec("bandwidth"), _dec("other"),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site"),
    )
    op.create_table(
        "investment_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("life_years", sa.Integer(), nullable=False),
        _dec("debt_share"), _dec("interest_rate"),
        sa.Column("loan_years", sa.Integer(), nullable=False),
        _dec("discount_rate"), _dec("price_decline"),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("investment_settings")
    op.drop_table("site_opex")
    op.drop_table("node_capex")

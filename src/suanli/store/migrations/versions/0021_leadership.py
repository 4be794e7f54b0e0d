"""leadership: the lease row of the background work's leader and its fencing token (epoch)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "leadership",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("since", suanli.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", suanli.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leadership")),
        sa.CheckConstraint("epoch >= 0", name=op.f("ck_leadership_epoch")),
    )
    op.bulk_insert(table, [{"name": "background", "holder": None, "epoch": 0, "since": None, "expires_at": None}])


def downgrade() -> None:
    op.drop_table("leadership")

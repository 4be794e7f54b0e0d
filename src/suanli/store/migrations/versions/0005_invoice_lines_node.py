"""invoice_lines.node: supplier statements per node and period

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Lines issued before this revision keep ``node = ''`` (their usage was metered per model, site
and supplier); statements show them under an empty node.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=120), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_column("node")

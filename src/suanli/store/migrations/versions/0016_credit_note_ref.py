"""credit_notes.ref: what a credit note was written for, when the platform wrote it (a term fee line)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credit_notes") as b:
        b.add_column(sa.Column("ref", sa.String(length=96), nullable=False, server_default=""))
        b.create_index("ix_credit_notes_ref", ["ref"])


def downgrade() -> None:
    with op.batch_alter_table("credit_notes") as b:
        b.drop_index("ix_credit_notes_ref")
        b.drop_column("ref")

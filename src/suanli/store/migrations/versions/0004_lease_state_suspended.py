"""lease state 'suspended' (low balance: devices given up, resumed after a top-up)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD = "state in ('pending','scheduled','active','ended','cancelled','rejected','interrupted')"
NEW = "state in ('pending','scheduled','active','ended','cancelled','rejected','interrupted','suspended')"


def _swap(check: str) -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:  # SQLite: table copy; PostgreSQL: ALTER
        batch_op.drop_constraint("ck_leases_state", type_="check")
        batch_op.create_check_constraint("ck_leases_state", check)


def upgrade() -> None:
    _swap(NEW)


def downgrade() -> None:
    op.execute("UPDATE leases SET state = 'interrupted' WHERE state = 'suspended'")
    _swap(OLD)

"""audit trail: audit_events (append-only: triggers refuse UPDATE and DELETE), lease_events.actor

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store import audit

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "audit_events",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False, server_default=""),
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column("method", sa.String(8), nullable=False, server_default=""),
        sa.Column("path", sa.String(400), nullable=False, server_default=""),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("object_type", sa.String(48), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("tenant_id", sa.String(32), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.CheckConstraint("action in ('create','update','delete')", name="ck_audit_events_action"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_actor_name", "audit_events", ["actor_name"])
    op.create_index("ix_audit_events_tenant_id", "audit_events", ["tenant_id"])
    op.create_index("ix_audit_events_object", "audit_events", ["object_type", "object_id"])
    audit.install_triggers(op.get_bind())
    with op.batch_alter_table("lease_events") as b:
        b.add_column(sa.Column("actor", sa.String(120), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("lease_events") as b:
        b.drop_column("actor")
    audit.drop_triggers(op.get_bind())
    op.drop_table("audit_events")

"""the order queue, fair share and priority classes (QUEUE part): ``orders.status`` may be ``queued``
(and only fulfilled, rejected, cancelled or queued: a CHECK on PostgreSQL, triggers on SQLite, which
cannot add a CHECK to a table without copying it); ``order_queue`` (one row per order that waited:
priority, wait_until, queued_at, state); ``queue_weights`` (the operator's fair-share weight per
tenant and whether it may order priority high); ``spot_preemptions`` (the notice a spot lease got)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import DecimalText, UTCDateTime

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

STATUSES = "('fulfilled','rejected','cancelled','queued')"


def upgrade() -> None:
    op.create_table(
        "order_queue",
        sa.Column("order_id", sa.String(32), sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("wait_until", UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("priority in ('high','normal','low')", name="ck_order_queue_priority"),
        sa.CheckConstraint("state in ('waiting','granted','expired','cancelled')", name="ck_order_queue_state"),
        sa.CheckConstraint("wait_until > queued_at", name="ck_order_queue_deadline"),
    )
    op.create_index("ix_order_queue_state", "order_queue", ["state", "priority", "queued_at"])
    op.create_table(
        "queue_weights",
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("weight", DecimalText(), nullable=False),
        sa.Column("allow_high", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(32), nullable=False),
        sa.Column("set_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "spot_preemptions",
        sa.Column("lease_id", sa.String(32), sa.ForeignKey("leases.id"), primary_key=True),
        sa.Column("for_order", sa.String(32), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("noticed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("preempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.CheckConstraint("preempt_at >= noticed_at", name="ck_spot_preemptions_notice"),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE orders ADD CONSTRAINT ck_orders_status CHECK (status in {STATUSES})")
    else:
        for event in ("INSERT", "UPDATE OF status"):
            name = "tr_orders_status_" + event.split()[0].lower()
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON orders FOR EACH ROW "
                       f"WHEN NEW.status NOT IN {STATUSES} "
                       "BEGIN SELECT RAISE(ABORT, 'ck_orders_status: order status not allowed'); END")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE orders DROP CONSTRAINT IF EXISTS ck_orders_status")
    else:
        op.execute("DROP TRIGGER IF EXISTS tr_orders_status_insert")
        op.execute("DROP TRIGGER IF EXISTS tr_orders_status_update")
    op.drop_table("spot_preemptions")
    op.drop_table("queue_weights")
    op.drop_index("ix_order_queue_state", table_name="order_queue")
    op.drop_table("order_queue")

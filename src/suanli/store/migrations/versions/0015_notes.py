"""credit and debit notes on the invoice document (Trust II follow-up)

``debit_notes``: a debit note the operator issues by hand on an issued invoice (amount, reason,
who, its ledger entry), owed until ``paid_at``. ``price_correction_notes.paid_at``: when a
correction's debit note was paid (``suanli invoice pay``). ``credit_notes.actor_name``: who gave
a manual credit note (empty for those given before).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "debit_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", suanli.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id"),
    )
    with op.batch_alter_table("debit_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debit_notes_invoice_id"), ["invoice_id"], unique=False)
    with op.batch_alter_table("price_correction_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_at", suanli.store.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_name", sa.String(length=120), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.drop_column("actor_name")
    with op.batch_alter_table("price_correction_notes", schema=None) as batch_op:
        batch_op.drop_column("paid_at")
    with op.batch_alter_table("debit_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debit_notes_invoice_id"))
    op.drop_table("debit_notes")

"""sla_credit_postings: SLA credits reach the ledger once (keyed by the credit's id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_credit_postings",
        sa.Column("sla_credit_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("lease_id", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("supplier_share", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sla_credit_id"], ["sla_credits.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("sla_credit_id"),
        sa.UniqueConstraint("entry_id"),
    )
    with op.batch_alter_table("sla_credit_postings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_credit_postings_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_credit_postings_invoice_id"), ["invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_credit_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_credit_postings_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_sla_credit_postings_tenant_id"))
    op.drop_table("sla_credit_postings")

"""voucher rules (Trust II): voucher schemes (custom, beijing, shanghai, shenzhen); the rule that set
each use's amount; contract facts per paid plan; claims (one per contract, UNIQUE); redemptions with
delivery evidence; approved suppliers per scheme; start-up firms

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.String(length=16), server_default="custom", nullable=False))
    with op.batch_alter_table("voucher_uses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=32), server_default="percent_of_line", nullable=False))
    op.create_table(
        "voucher_contracts",
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("value", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("other_subsidy", sa.Text(), nullable=False),
        sa.Column("recorded_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["price_plans.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("plan_id"),
    )
    op.create_index("ix_voucher_contracts_tenant_id", "voucher_contracts", ["tenant_id"])
    op.create_table(
        "voucher_claims",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("voucher_id", sa.String(length=32), nullable=False),
        sa.Column("contract", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"]),
        sa.ForeignKeyConstraint(["contract"], ["voucher_contracts.plan_id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract", name="uq_voucher_claims_contract"),
    )
    op.create_index("ix_voucher_claims_voucher_id", "voucher_claims", ["voucher_id"])
    op.create_table(
        "voucher_redemptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("voucher_id", sa.String(length=32), nullable=False),
        sa.Column("claim_id", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["voucher_claims.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("voucher_id", "invoice_id", name="uq_voucher_redemptions_invoice"),
    )
    op.create_index("ix_voucher_redemptions_voucher_id", "voucher_redemptions", ["voucher_id"])
    op.create_table(
        "voucher_approved_suppliers",
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("supplier", sa.String(length=64), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["supplier"], ["suppliers.name"]),
        sa.PrimaryKeyConstraint("scheme", "supplier"),
    )
    op.create_table(
        "voucher_firms",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("startup", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("voucher_firms")
    op.drop_table("voucher_approved_suppliers")
    op.drop_index("ix_voucher_redemptions_voucher_id", table_name="voucher_redemptions")
    op.drop_table("voucher_redemptions")
    op.drop_index("ix_voucher_claims_voucher_id", table_name="voucher_claims")
    op.drop_table("voucher_claims")
    op.drop_index("ix_voucher_contracts_tenant_id", table_name="voucher_contracts")
    op.drop_table("voucher_contracts")
    with op.batch_alter_table("voucher_uses", schema=None) as batch_op:
        batch_op.drop_column("rule")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_column("scheme")

"""invoices for China and supplier payouts (INVOICE)

``legal_profiles``: the seller's (operator's) and each buyer's (tenant's) legal name, tax id,
address, phone, bank and account, and the invoice type a buyer asks for. ``tax_rates``: the tax
rate per product type, effective from an instant. ``invoice_legal``: what an issued invoice keeps
of them (written once at issue). ``supplier_payouts``: payout records (date, amount, reference,
months covered, idempotency key) with their ledger entry.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "legal_profiles",
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("tax_id", sa.String(length=40), nullable=False),
        sa.Column("foreign_tax_id", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("bank_account", sa.String(length=64), nullable=False),
        sa.Column("invoice_type", sa.String(length=16), nullable=False),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint("invoice_type in ('normal','special')", name="ck_legal_profiles_invoice_type"),
        sa.PrimaryKeyConstraint("party"),
    )
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_type", sa.String(length=16), nullable=False),
        sa.Column("rate", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("effective_from", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("set_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("product_type in ('compute','package','storage','traffic','tokens')",
                           name="ck_tax_rates_product_type"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_type", "effective_from", name="uq_tax_rates_type_from"),
    )
    op.create_table(
        "invoice_legal",
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("seller", sa.JSON(), nullable=True),
        sa.Column("buyer", sa.JSON(), nullable=True),
        sa.Column("taxes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_table(
        "supplier_payouts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("supplier", sa.String(length=64), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("recorded_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"]),
        sa.ForeignKeyConstraint(["supplier"], ["suppliers.name"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id"),
        sa.UniqueConstraint("supplier", "idempotency_key", name="uq_supplier_payouts_key"),
    )
    with op.batch_alter_table("supplier_payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_payouts_supplier"), ["supplier"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("supplier_payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_payouts_supplier"))
    op.drop_table("supplier_payouts")
    op.drop_table("invoice_legal")
    op.drop_table("tax_rates")
    op.drop_table("legal_profiles")

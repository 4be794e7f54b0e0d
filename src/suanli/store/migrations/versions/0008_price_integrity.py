"""price integrity (Trust II): price corrections and the credit/debit notes they issue

``price_corrections``: each correction of the past (who, when, reason, window, old and new price);
``seq`` (unique) orders them: where two overlap, the later one applies.
``price_correction_notes``: the credit or debit note it issued on each affected issued invoice,
with its ledger entry. Both append-only by use (nothing updates them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_corrections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("window_from", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_to", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("created_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_prices", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq", name="uq_price_corrections_seq"),
        sa.CheckConstraint("unit in ('device_hour','p_year')", name="ck_price_corrections_unit"),
        sa.CheckConstraint("window_to > window_from", name="ck_price_corrections_window"),
    )
    with op.batch_alter_table("price_corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_corrections_model"), ["model"], unique=False)
    op.create_table(
        "price_correction_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("correction_id", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("tax", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("total", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("supplier_share", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("commission", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("to_wallet", sa.Boolean(), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["correction_id"], ["price_corrections.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id"),
        sa.UniqueConstraint("correction_id", "invoice_id", "kind", name="uq_price_correction_notes_once"),
        sa.CheckConstraint("kind in ('credit','debit')", name="ck_price_correction_notes_kind"),
    )
    with op.batch_alter_table("price_correction_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_correction_notes_correction_id"), ["correction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_price_correction_notes_invoice_id"), ["invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("price_correction_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_correction_notes_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_price_correction_notes_correction_id"))
    op.drop_table("price_correction_notes")
    with op.batch_alter_table("price_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_corrections_model"))
    op.drop_table("price_corrections")

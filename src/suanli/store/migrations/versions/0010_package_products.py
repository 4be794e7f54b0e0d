"""package products (Trust II): products the operator sells; a package records its product, site
scope, count, the list price a sale departed from, and who sold it and why

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_products",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("meter", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("quantity", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("price", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("valid_from", suanli.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_to", suanli.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(valid_days IS NULL) != (valid_to IS NULL)", name="ck_package_products_validity"),
        sa.CheckConstraint("state IN ('active', 'retired')", name="ck_package_products_state"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("product_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("list_price", suanli.store.types.DecimalText(length=64), nullable=True))
        batch_op.add_column(sa.Column("sold_by", sa.String(length=120), server_default="", nullable=False))
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))
        batch_op.create_index(batch_op.f("ix_packages_product_id"), ["product_id"], unique=False)
        batch_op.create_foreign_key("fk_packages_product_id", "package_products", ["product_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_packages_product_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_packages_product_id"))
        batch_op.drop_column("reason")
        batch_op.drop_column("sold_by")
        batch_op.drop_column("list_price")
        batch_op.drop_column("count")
        batch_op.drop_column("product_id")
        batch_op.drop_column("site")
    op.drop_table("package_products")

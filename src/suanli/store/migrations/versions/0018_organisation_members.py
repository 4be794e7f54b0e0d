"""organisation members and their monthly spend limits (issue 11, sub-accounts)

``accounts``: ``organisation_id`` (a member's organisation: another tenant account), ``member_role``
(admin | developer | finance | viewer), ``spend_limit`` (a member's monthly limit, decimal text),
``removed_at``. ``orders.ordered_by`` and ``orders.committed`` (who placed an order and what it
committed against the member's limit); ``packages.bought_by``; ``member_spend`` (what a member's
lease extensions committed).

Only columns are added (``ALTER TABLE ... ADD COLUMN``, in place on SQLite too): ``accounts`` is
referenced by most tables, so it must not be copied and dropped the way a batch recreate would.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


_ROLES = "member_role in ('admin','developer','finance','viewer')"


def _add(table: str, column: sa.Column[object], ref: str | None = None, check: str | None = None) -> None:
    """Add a column in place (with its foreign key to ``accounts`` and its check): SQLite's own
    ``ALTER TABLE ADD COLUMN`` takes both inline; PostgreSQL adds them as constraints."""
    if op.get_bind().dialect.name == "sqlite":
        ddl = sa.schema.CreateColumn(column).compile(dialect=op.get_bind().dialect)
        extra = (f" CONSTRAINT {ref} REFERENCES accounts (id)" if ref else "") + (
            f" CONSTRAINT ck_{table}_{column.name} CHECK ({check})" if check else "")
        op.execute(f"ALTER TABLE {table} ADD COLUMN {ddl}{extra}")
    else:
        op.add_column(table, column)
        if ref:
            op.create_foreign_key(ref, table, "accounts", [column.name], ["id"])
        if check:
            op.create_check_constraint(f"ck_{table}_{column.name}", table, check)


def upgrade() -> None:
    _add("accounts", sa.Column("organisation_id", sa.String(length=32), nullable=True), ref="fk_accounts_organisation_id")
    _add("accounts", sa.Column("member_role", sa.String(length=16), nullable=True), check=_ROLES)
    _add("accounts", sa.Column("spend_limit", suanli.store.types.DecimalText(length=64), nullable=True))
    _add("accounts", sa.Column("removed_at", suanli.store.types.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_accounts_organisation_id", "accounts", ["organisation_id"], unique=False)
    _add("orders", sa.Column("ordered_by", sa.String(length=32), nullable=True), ref="fk_orders_ordered_by")
    _add("orders", sa.Column("committed", suanli.store.types.DecimalText(length=64), nullable=True))
    op.create_index("ix_orders_ordered_by", "orders", ["ordered_by"], unique=False)
    _add("packages", sa.Column("bought_by", sa.String(length=32), nullable=True), ref="fk_packages_bought_by")
    op.create_index("ix_packages_bought_by", "packages", ["bought_by"], unique=False)
    op.create_table(
        "member_spend",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("lease_id", sa.String(length=32), nullable=False),
        sa.Column("amount", suanli.store.types.DecimalText(length=64), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["lease_id"], ["leases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_member_spend_account_id", "member_spend", ["account_id"], unique=False)


def downgrade() -> None:
    # a batch copy on SQLite (its ALTER cannot drop a column with a foreign key); run it, as Alembic's
    # command line does, on a connection with foreign keys off, since accounts is referenced everywhere
    op.drop_index("ix_member_spend_account_id", table_name="member_spend")
    op.drop_table("member_spend")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_bought_by")
        batch_op.drop_column("bought_by")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_ordered_by")
        batch_op.drop_column("committed")
        batch_op.drop_column("ordered_by")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_organisation_id")
        batch_op.drop_constraint("ck_accounts_member_role", type_="check")
        for col in ("removed_at", "spend_limit", "member_role", "organisation_id"):
            batch_op.drop_column(col)

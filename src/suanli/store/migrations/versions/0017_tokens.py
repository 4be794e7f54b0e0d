"""tokens: label, scope (full | read | lease) and its lease, expiry and last use of API tokens

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as b:
        b.add_column(sa.Column("label", sa.String(length=80), nullable=False, server_default=""))
        b.add_column(sa.Column("scope", sa.String(length=16), nullable=False, server_default="full"))
        b.add_column(sa.Column("lease_id", sa.String(length=32), nullable=True))
        b.add_column(sa.Column("expires_at", suanli.store.types.UTCDateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("last_used_at", suanli.store.types.UTCDateTime(timezone=True), nullable=True))
        b.create_foreign_key("fk_api_tokens_lease_id_leases", "leases", ["lease_id"], ["id"])
        b.create_check_constraint("ck_api_tokens_scope", "scope in ('full','read','lease')")
        b.create_check_constraint("ck_api_tokens_lease", "(scope = 'lease') = (lease_id IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as b:
        b.drop_constraint("ck_api_tokens_lease", type_="check")
        b.drop_constraint("ck_api_tokens_scope", type_="check")
        b.drop_constraint("fk_api_tokens_lease_id_leases", type_="foreignkey")
        b.drop_column("last_used_at")
        b.drop_column("expires_at")
        b.drop_column("lease_id")
        b.drop_column("scope")
        b.drop_column("label")

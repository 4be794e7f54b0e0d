"""terms hold capacity (Trust II): a plan kind that holds nothing is named so

- ``price_plans.kind`` allows ``spend_commitment``: a commitment to spend that holds no capacity.
- Every ``commit`` plan recorded before this revision held no devices (there was no way to), so
  it becomes a ``spend_commitment``; a ``commit`` is now a take-or-pay that reserves its devices.
- ``term`` plans recorded before have no reservation: rating bills them no fee and covers nothing
  (see docs/billing.md "Term"); the operator ends such a plan and creates a new one, which
  reserves its devices.

The reservation itself needs no new column: it is a lease of form ``reservation`` (its id in the
plan's ``spec``), and the allocations its tenant's orders draw on it name it in
``allocations.drawn_from`` (revision 0007).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_NEW = "kind in ('payg','spot','term','commit','spend_commitment')"
_OLD = "kind in ('payg','spot','term','commit')"


def upgrade() -> None:
    with op.batch_alter_table("price_plans", schema=None) as batch_op:
        batch_op.drop_constraint("ck_price_plans_kind", type_="check")
        batch_op.create_check_constraint("ck_price_plans_kind", _NEW)
    op.execute("UPDATE price_plans SET kind = 'spend_commitment' WHERE kind = 'commit'")


def downgrade() -> None:
    op.execute("UPDATE price_plans SET kind = 'commit' WHERE kind = 'spend_commitment'")
    with op.batch_alter_table("price_plans", schema=None) as batch_op:
        batch_op.drop_constraint("ck_price_plans_kind", type_="check")
        batch_op.create_check_constraint("ck_price_plans_kind", _OLD)

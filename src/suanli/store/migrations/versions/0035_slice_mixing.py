"""one mechanism per device (MIXING part): triggers on slice_grants and allocations refusing a slice whose
device holds, over an overlapping window, a slice of another mechanism class (mig, mps, hami, vnpu, none);
no table changes (docs/slices.md "Mixing mechanisms on one device", :mod:`suanli.store.slice_mixing`)

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from suanli.store import slice_mixing

    slice_mixing.install(op.get_bind())


def downgrade() -> None:
    from suanli.store import slice_mixing

    slice_mixing.uninstall(op.get_bind())

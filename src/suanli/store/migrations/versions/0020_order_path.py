"""order path: ending an allocation takes no device lock (the capacity checks skip shrinking updates)

The order path places orders in batches, one transaction per batch (service.order_loop). The
capacity rule's PostgreSQL trigger locked the device row on every UPDATE of an allocation,
ending a lease included, so every lease end on a device queued behind the batch in flight and the
batch behind the ends. An UPDATE that only shrinks a counted allocation (same device, no more
milli, a window inside the old one) can never add load: the checks now skip it, on both dialects
(:data:`suanli.store.capacity.SHRINKS`). Downgrade restores the checks on every UPDATE.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from suanli.store import capacity

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    capacity.install_checks(op.get_bind(), shrink_exempt=True)


def downgrade() -> None:
    capacity.install_checks(op.get_bind(), shrink_exempt=False)

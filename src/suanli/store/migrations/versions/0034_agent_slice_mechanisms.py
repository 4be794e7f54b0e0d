"""agent_nodes.slice_mechanisms (MIG part): the slice mechanisms a node agent probed on its node and reports at
join and with each heartbeat (comma list of mig, mps, vnpu, hami; empty = none or not reported). The agent
engine declares what every live agent reports (docs/slices.md).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_nodes") as batch:
        batch.add_column(sa.Column("slice_mechanisms", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("agent_nodes") as batch:
        batch.drop_column("slice_mechanisms")

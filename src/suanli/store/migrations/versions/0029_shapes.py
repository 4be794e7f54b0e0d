"""custom shapes (SHAPES part): resource list prices and node-level resource allocations

``node_allocations``: the host resources (CPU, RAM, NIC, disk) each lease holds per node, with the
database refusing a node's overfill at any instant (:mod:`suanli.store.shapes`); the live leases
of before get their devices' proportional share (whole nodes for server and cluster) over their
current allocations' window. ``resource_prices``: list prices of the resources.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from suanli.domain.shapes import NodeCapacity, Shape, hold_for
from suanli.store import shapes
from suanli.store.types import DecimalText, UTCDateTime

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_allocations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("lease_id", sa.String(32), sa.ForeignKey("leases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("node_id", sa.Integer(), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cpu_milli", sa.Integer(), nullable=False),
        sa.Column("ram_mib", sa.Integer(), nullable=False),
        sa.Column("nic_mbps", sa.Integer(), nullable=False),
        sa.Column("disk_gib", sa.Integer(), nullable=False),
        sa.Column("extra_cpu_milli", sa.Integer(), nullable=False),
        sa.Column("extra_ram_mib", sa.Integer(), nullable=False),
        sa.Column("extra_nic_mbps", sa.Integer(), nullable=False),
        sa.Column("extra_disk_gib", sa.Integer(), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("cpu_milli >= 0 and ram_mib >= 0 and nic_mbps >= 0 and disk_gib >= 0",
                           name="ck_node_allocations_amounts"),
        sa.CheckConstraint("extra_cpu_milli >= 0 and extra_cpu_milli <= cpu_milli and extra_ram_mib >= 0 "
                           "and extra_ram_mib <= ram_mib and extra_nic_mbps >= 0 and extra_nic_mbps <= nic_mbps "
                           "and extra_disk_gib >= 0 and extra_disk_gib <= disk_gib",
                           name="ck_node_allocations_extra"),
        sa.CheckConstraint("end_at is null or end_at >= start_at", name="ck_node_allocations_window"),
    )
    op.create_index("ix_node_allocations_lease_id", "node_allocations", ["lease_id"])
    op.create_index("ix_node_allocations_node_window", "node_allocations", ["node_id", "start_at"])
    op.create_table(
        "resource_prices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("amount", DecimalText(length=64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("effective_from", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("resource", "site", "effective_from", name="uq_resource_prices_resource_site_from"),
        sa.CheckConstraint("resource in ('cpu_core_hour','ram_gib_hour','nic_gbps_hour','disk_gib_month')",
                           name="ck_resource_prices_resource"),
    )
    conn = op.get_bind()
    _backfill(conn)
    shapes.install(conn)


def _backfill(conn: sa.Connection) -> None:
    """Live leases (scheduled, active) hold their devices' proportional share over their current
    allocations (drawn ones: nothing, the reservation's share counts)."""
    nodes = {r.id: r for r in conn.execute(sa.text(
        "SELECT id, cpu_cores, memory_gib, nic_gbps, disk_gb, device_count FROM nodes"))}
    rows = conn.execute(sa.text(
        "SELECT a.lease_id, l.form, d.node_id, a.milli, a.start_at, a.end_at FROM allocations a "
        "JOIN leases l ON l.id = a.lease_id JOIN devices d ON d.id = a.device_id "
        "WHERE l.state IN ('scheduled', 'active') AND a.drawn_from IS NULL "
        "AND (a.end_at IS NULL OR a.end_at > a.start_at)"))
    groups: dict[tuple[str, str, int, object, object], int] = defaultdict(int)
    for lease, form, node, milli, start, end in rows:
        groups[(lease, form, node, start, end)] += milli
    table = sa.table("node_allocations", *(sa.column(c) for c in (
        "lease_id", "node_id", "cpu_milli", "ram_mib", "nic_mbps", "disk_gib", "extra_cpu_milli", "extra_ram_mib",
        "extra_nic_mbps", "extra_disk_gib", "start_at", "end_at")))
    out = []
    for (lease, form, node, start, end), milli in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        n = nodes[node]
        cap = NodeCapacity.of(n.cpu_cores, n.memory_gib, n.nic_gbps, n.disk_gb)
        h = hold_for(node, cap, n.device_count, milli, Shape(), cpu_only=False,
                     whole_node=form in ("server", "cluster"))
        out.append({"lease_id": lease, "node_id": node, "cpu_milli": h.held.cpu_milli, "ram_mib": h.held.ram_mib,
                    "nic_mbps": h.held.nic_mbps, "disk_gib": h.held.disk_gib, "extra_cpu_milli": 0,
                    "extra_ram_mib": 0, "extra_nic_mbps": 0, "extra_disk_gib": 0, "start_at": start, "end_at": end})
    if out:
        conn.execute(sa.insert(table).values(out))


def downgrade() -> None:
    shapes.uninstall(op.get_bind())
    op.drop_table("resource_prices")
    op.drop_index("ix_node_allocations_node_window", table_name="node_allocations")
    op.drop_index("ix_node_allocations_lease_id", table_name="node_allocations")
    op.drop_table("node_allocations")

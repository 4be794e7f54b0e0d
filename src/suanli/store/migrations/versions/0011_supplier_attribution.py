"""supplier attribution (Trust II): node ownership history; usage stored without supplier backfilled

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

``node_owners`` holds who owned each node over which span. Every node gets one open span from
the beginning (1970-01-01) for the supplier its ``nodes.supplier`` names: there was no transfer
before this revision, so that supplier owned it throughout.

Usage events stored before this revision without a supplier are attributed here, once:

- an event that names a node known to the fleet gets that node's supplier;
- an event that names a lease but no node gets the node (and its supplier) of the lease's
  allocation in force at the event's time, when the lease held devices on exactly one node then.

Events left without a supplier name no node (or a node the fleet never had, or a lease that held
no device, or devices on several nodes, at that instant): they are the operator's own revenue, as
any line without a node. Issued invoices are not touched (their lines are stored). The downgrade
drops the history and keeps the attributions (they are what the history said).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
TS = suanli.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "node_owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=120), nullable=False),
        sa.Column("supplier", sa.String(length=64), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_to", TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("valid_to is null or valid_to > valid_from", name="ck_node_owners_window"),
        sa.ForeignKeyConstraint(["node"], ["nodes.name"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["supplier"], ["suppliers.name"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("node", "valid_from", name="uq_node_owners_node_from"),
    )
    with op.batch_alter_table("node_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_owners_node"), ["node"], unique=False)
        batch_op.create_index("uq_node_owners_open", ["node"], unique=True,
                              sqlite_where=sa.text("valid_to IS NULL"), postgresql_where=sa.text("valid_to IS NULL"))

    _backfill(op.get_bind())


def _backfill(bind: sa.Connection) -> None:
    """Ownership from the beginning for every node without a span; attribution of the events
    stored without a supplier (see the module docstring). Idempotent."""
    nodes = sa.table("nodes", sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("supplier", sa.String))
    owners = sa.table("node_owners", sa.column("node", sa.String), sa.column("supplier", sa.String),
                      sa.column("valid_from", TS), sa.column("valid_to", TS), sa.column("reason", sa.Text),
                      sa.column("created_at", TS))
    now = datetime.now(UTC)
    owned = set(bind.execute(sa.select(owners.c.node).distinct()).scalars())
    rows = [{"node": n, "supplier": s, "valid_from": BEGINNING, "valid_to": None, "reason": "registered",
             "created_at": now} for n, s in bind.execute(sa.select(nodes.c.name, nodes.c.supplier)) if n not in owned]
    if rows:
        bind.execute(owners.insert(), rows)

    # events that name a known node: its supplier
    bind.execute(sa.text(
        "UPDATE usage_events SET supplier = (SELECT n.supplier FROM nodes n WHERE n.name = usage_events.node) "
        "WHERE supplier = '' AND node != '' AND EXISTS (SELECT 1 FROM nodes n WHERE n.name = usage_events.node)"))

    # events that name a lease but no node: the lease's one node at that instant
    events = sa.table("usage_events", sa.column("id", sa.BigInteger), sa.column("lease", sa.String),
                      sa.column("time", TS), sa.column("node", sa.String), sa.column("supplier", sa.String))
    allocs = sa.table("allocations", sa.column("lease_id", sa.String), sa.column("device_id", sa.Integer),
                      sa.column("start_at", TS), sa.column("end_at", TS))
    devices = sa.table("devices", sa.column("id", sa.Integer), sa.column("node_id", sa.Integer))
    todo = list(bind.execute(sa.select(events.c.id, events.c.lease, events.c.time).where(
        events.c.supplier == "", events.c.node == "", events.c.lease != "")))
    if not todo:
        return
    held: dict[str, list[tuple[datetime, datetime | None, str, str]]] = {}
    leases = sorted({lease for _i, lease, _t in todo})
    for i in range(0, len(leases), 500):
        q = (sa.select(allocs.c.lease_id, allocs.c.start_at, allocs.c.end_at, nodes.c.name, nodes.c.supplier)
             .join(devices, devices.c.id == allocs.c.device_id).join(nodes, nodes.c.id == devices.c.node_id)
             .where(allocs.c.lease_id.in_(leases[i:i + 500])))
        for lease, a, b, node, supplier in bind.execute(q):
            held.setdefault(lease, []).append((a, b, node, supplier))
    updates = []
    for eid, lease, t in todo:
        found = {(node, sup) for a, b, node, sup in held.get(lease, []) if a <= t and (b is None or t < b)}
        if len(found) == 1:
            ((node, sup),) = found
            updates.append({"eid": eid, "n": node, "s": sup})
    if updates:
        bind.execute(events.update().where(events.c.id == sa.bindparam("eid"))
                     .values(node=sa.bindparam("n"), supplier=sa.bindparam("s")), updates)


def downgrade() -> None:
    with op.batch_alter_table("node_owners", schema=None) as batch_op:
        batch_op.drop_index("uq_node_owners_open", sqlite_where=sa.text("valid_to IS NULL"),
                            postgresql_where=sa.text("valid_to IS NULL"))
        batch_op.drop_index(batch_op.f("ix_node_owners_node"))
    op.drop_table("node_owners")

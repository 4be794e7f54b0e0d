"""node agents (REMOTE SITES): agent_join_tokens, agent_nodes, agent_leases, agent_jobs, agent_usage, agent_telemetry

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import DecimalText, UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_join_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("node", sa.String(120), sa.ForeignKey("nodes.name"), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_agent_join_tokens_node", "agent_join_tokens", ["node"])
    op.create_table(
        "agent_nodes",
        sa.Column("node", sa.String(120), sa.ForeignKey("nodes.name"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("credential_hash", sa.String(64), nullable=True),
        sa.Column("credential_prefix", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("joined_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(32), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("rtt_ms", DecimalText(length=64), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("credential_hash"),
        sa.CheckConstraint("state in ('awaiting_join','pending','approved','revoked')", name="ck_agent_nodes_state"),
    )
    op.create_table(
        "agent_leases",
        sa.Column("node", sa.String(120), sa.ForeignKey("nodes.name"), primary_key=True),
        sa.Column("lease_id", sa.String(32), primary_key=True),
        sa.Column("grant", sa.JSON(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_leases_lease", "agent_leases", ["lease_id"])
    op.create_table(
        "agent_jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("lease_id", sa.String(32), nullable=False),
        sa.Column("node", sa.String(120), sa.ForeignKey("nodes.name"), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("device_indices", sa.JSON(), nullable=False),
        sa.Column("start", UTCDateTime(timezone=True), nullable=True),
        sa.Column("end", UTCDateTime(timezone=True), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("stdout", sa.Text(), nullable=False),
        sa.Column("stderr", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_jobs_lease_id", "agent_jobs", ["lease_id"])
    op.create_index("ix_agent_jobs_node", "agent_jobs", ["node"])
    op.create_table(
        "agent_usage",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("lease_id", sa.String(32), nullable=False),
        sa.Column("node", sa.String(120), sa.ForeignKey("nodes.name"), nullable=False),
        sa.Column("device_indices", sa.JSON(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("device_seconds", DecimalText(length=64), nullable=False),
        sa.Column("reported_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_usage_node", "agent_usage", ["node"])
    op.create_index("ix_agent_usage_end", "agent_usage", ["end"])
    op.create_table(
        "agent_telemetry",
        sa.Column("node", sa.String(120), sa.ForeignKey("nodes.name"), primary_key=True),
        sa.Column("device_index", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("uuid", sa.String(120), nullable=False),
        sa.Column("utilisation_pct", sa.Integer(), nullable=True),
        sa.Column("memory_used_mib", sa.Integer(), nullable=True),
        sa.Column("memory_total_mib", sa.Integer(), nullable=True),
        sa.Column("power_w", DecimalText(length=64), nullable=True),
        sa.Column("temperature_c", sa.Integer(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=True),
        sa.Column("energy_kwh", DecimalText(length=64), nullable=True),
        sa.CheckConstraint("utilisation_pct is null or (utilisation_pct >= 0 and utilisation_pct <= 100)",
                           name="ck_agent_telemetry_util"),
    )


def downgrade() -> None:
    op.drop_table("agent_telemetry")
    op.drop_index("ix_agent_usage_end", table_name="agent_usage")
    op.drop_index("ix_agent_usage_node", table_name="agent_usage")
    op.drop_table("agent_usage")
    op.drop_index("ix_agent_jobs_node", table_name="agent_jobs")
    op.drop_index("ix_agent_jobs_lease_id", table_name="agent_jobs")
    op.drop_table("agent_jobs")
    op.drop_index("ix_agent_leases_lease", table_name="agent_leases")
    op.drop_table("agent_leases")
    op.drop_table("agent_nodes")
    op.drop_index("ix_agent_join_tokens_node", table_name="agent_join_tokens")
    op.drop_table("agent_join_tokens")

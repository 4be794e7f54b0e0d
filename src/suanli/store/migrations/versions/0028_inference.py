"""inference service: inference_deployments, inference_replicas, inference_requests, inference_key_usage;
api_tokens gain the ``inference`` scope, a per-key rate limit, a monthly token quota and the job a platform-made token is for

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from suanli.store.types import UTCDateTime

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inference_deployments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("runtime", sa.String(16), nullable=False),
        sa.Column("model_ref", sa.String(200), nullable=False),
        sa.Column("shapes", sa.JSON(), nullable=False),
        sa.Column("near", sa.String(64), nullable=False),
        sa.Column("max_rtt_ms", sa.Integer(), nullable=True),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("desired_replicas", sa.Integer(), nullable=False),
        sa.Column("target_inflight", sa.Integer(), nullable=False),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        sa.Column("context_length", sa.Integer(), nullable=False),
        sa.Column("max_output_tokens", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner_id", "name", name="uq_inference_deployments_owner_name"),
        sa.CheckConstraint("state in ('active','deleted')", name="ck_inference_deployments_state"),
        sa.CheckConstraint("min_replicas >= 0 and min_replicas <= max_replicas and desired_replicas >= 0",
                           name="ck_inference_deployments_replicas"),
    )
    op.create_index("ix_inference_deployments_owner_id", "inference_deployments", ["owner_id"])
    op.create_table(
        "inference_replicas",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("deployment_id", sa.String(40), sa.ForeignKey("inference_deployments.id"), nullable=False),
        sa.Column("lease_id", sa.String(32), nullable=True),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("node", sa.String(120), nullable=False),
        sa.Column("hardware", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(600), nullable=False),
        sa.Column("reason", sa.String(600), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ready_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cold_start_ms", sa.Integer(), nullable=True),
        sa.CheckConstraint("state in ('pending','starting','ready','unhealthy','draining','stopped','failed')",
                           name="ck_inference_replicas_state"),
    )
    op.create_index("ix_inference_replicas_deployment_state", "inference_replicas", ["deployment_id", "state"])
    op.create_table(
        "inference_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("deployment_id", sa.String(40), nullable=False),
        sa.Column("replica_id", sa.String(40), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_token_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status in ('ok','failed','abandoned')", name="ck_inference_requests_status"),
        sa.CheckConstraint("prompt_tokens >= 0 and completion_tokens >= 0 and cached_tokens >= 0 "
                           "and cached_tokens <= prompt_tokens", name="ck_inference_requests_tokens"),
    )
    op.create_index("ix_inference_requests_tenant_started", "inference_requests", ["tenant_id", "started_at"])
    op.create_index("ix_inference_requests_token_started", "inference_requests", ["token_id", "started_at"])
    op.create_index("ix_inference_requests_deployment_started", "inference_requests", ["deployment_id", "started_at"])
    op.create_table(
        "inference_key_usage",
        sa.Column("token_id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("api_tokens") as b:
        b.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
        b.add_column(sa.Column("token_quota", sa.BigInteger(), nullable=True))
        b.add_column(sa.Column("job_id", sa.String(32), nullable=True))
        b.create_index("ix_api_tokens_job_id", ["job_id"])
        b.drop_constraint("ck_api_tokens_scope", type_="check")
        b.create_check_constraint("ck_api_tokens_scope", "scope in ('full','read','lease','inference')")


def downgrade() -> None:
    op.execute("DELETE FROM api_tokens WHERE scope = 'inference'")  # a scope the old schema cannot hold
    with op.batch_alter_table("api_tokens") as b:
        b.drop_constraint("ck_api_tokens_scope", type_="check")
        b.create_check_constraint("ck_api_tokens_scope", "scope in ('full','read','lease')")
        b.drop_index("ix_api_tokens_job_id")
        b.drop_column("job_id")
        b.drop_column("token_quota")
        b.drop_column("rate_limit_per_minute")
    op.drop_table("inference_key_usage")
    op.drop_index("ix_inference_requests_deployment_started", table_name="inference_requests")
    op.drop_index("ix_inference_requests_token_started", table_name="inference_requests")
    op.drop_index("ix_inference_requests_tenant_started", table_name="inference_requests")
    op.drop_table("inference_requests")
    op.drop_index("ix_inference_replicas_deployment_state", table_name="inference_replicas")
    op.drop_table("inference_replicas")
    op.drop_index("ix_inference_deployments_owner_id", table_name="inference_deployments")
    op.drop_table("inference_deployments")

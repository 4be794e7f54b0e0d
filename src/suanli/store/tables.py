"""SQLAlchemy 2 tables (``*Row``). Alembic owns the schema (``store/migrations``).

Invariants kept by the database:
- ``api_tokens.token_hash`` unique; tokens are stored only as SHA-256 hashes.
- ``orders (tenant_id, idempotency_key)`` unique: a retried order never creates a second lease.
- ``allocations.milli`` in 1..1000; a grant bumps ``devices.alloc_version`` with a compare-and-set
  (see ``store.leases.claim_devices``), so two concurrent grants on one device serialise and the
  loser re-places: a device share can never be granted twice.
- ``prices (model, site, effective_from)`` unique; ``site='*'`` is the all-sites default.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from suanli.store.types import DecimalText, UTCDateTime


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    supplier: Mapped[str | None] = mapped_column(ForeignKey("suppliers.name"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # organisation members (migration 0018): a member is a tenant account of an organisation (the
    # organisation's account id); the organisation's own account has none and acts as its admin
    organisation_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", name="fk_accounts_organisation_id"), nullable=True, index=True)
    member_role: Mapped[str | None] = mapped_column(
        String(16), CheckConstraint("member_role in ('admin','developer','finance','viewer')",
                                    name="ck_accounts_member_role"), nullable=True)
    spend_limit: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    """A member's monthly spend limit in the operator's currency (``None``: no limit)."""
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the member was removed from its organisation (its tokens were revoked then)."""
    __table_args__ = (CheckConstraint("role in ('operator','supplier','tenant')", name="ck_accounts_role"),)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    label: Mapped[str] = mapped_column(String(80), default="", server_default="")
    scope: Mapped[str] = mapped_column(String(16), default="full", server_default="full")
    """full | read | lease | inference (``domain.tokens.TokenScope``)."""
    lease_id: Mapped[str | None] = mapped_column(ForeignKey("leases.id"), nullable=True)
    """The one lease of a ``lease`` token (set exactly when scope is lease)."""
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Written at most once a minute per token (``domain.tokens.needs_touch``)."""
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """An inference key's own requests per minute (``None``: only the global per-token limit)."""
    token_quota: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """An inference key's tokens per UTC month (``None``: no quota; use: ``inference_key_usage``)."""
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    """The job the platform made this token for (``service.jobs``; revoked when the job ends); ``None`` for
    every token an account makes. Not a foreign key: the token is made before the job's row."""
    __table_args__ = (
        CheckConstraint("scope in ('full','read','lease','inference')", name="ck_api_tokens_scope"),
        CheckConstraint("(scope = 'lease') = (lease_id IS NOT NULL)", name="ck_api_tokens_lease"),
    )


class ModelRow(Base):
    """Operator-added or overriding accelerator models (the built-in catalog is in code)."""

    __tablename__ = "accelerator_models"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class SiteRow(Base):
    __tablename__ = "sites"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16))
    pue: Mapped[Decimal] = mapped_column(DecimalText)
    power_price_kwh: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))


class SupplierRow(Base):
    __tablename__ = "suppliers"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")


class NodeRow(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.name"), index=True)
    supplier: Mapped[str] = mapped_column(ForeignKey("suppliers.name"), index=True)
    cpu_cores: Mapped[int] = mapped_column(Integer)
    memory_gib: Mapped[int] = mapped_column(Integer)
    nic_gbps: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    fabric: Mapped[str] = mapped_column(String(120), index=True)
    model: Mapped[str] = mapped_column(String(64))
    device_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(String(400), default="")
    __table_args__ = (
        CheckConstraint("state in ('available','maintenance','down')", name="ck_nodes_state"),
        CheckConstraint("device_count >= 1 and cpu_cores >= 1 and memory_gib >= 1", name="ck_nodes_sizes"),
    )


class NodeOwnerRow(Base):
    """A node's ownership history: ``supplier`` owned ``node`` over [valid_from, valid_to). Written
    at registration (from the beginning) and by a transfer (effective now or later, never earlier);
    spans of one node are contiguous, at most one is open (a partial unique index)."""

    __tablename__ = "node_owners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name", ondelete="CASCADE"), index=True)
    supplier: Mapped[str] = mapped_column(ForeignKey("suppliers.name"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("node", "valid_from", name="uq_node_owners_node_from"),
        CheckConstraint("valid_to is null or valid_to > valid_from", name="ck_node_owners_window"),
        Index("uq_node_owners_open", "node", unique=True, sqlite_where=text("valid_to IS NULL"),
              postgresql_where=text("valid_to IS NULL")),
    )


class DeviceRow(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    slot: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(64))
    alloc_version: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("node_id", "slot", name="uq_devices_node_slot"),)


class PriceRow(Base):
    __tablename__ = "prices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("model", "site", "effective_from", name="uq_prices_model_site_from"),
        CheckConstraint("unit in ('device_hour','p_year')", name="ck_prices_unit"),
    )


class FloorRow(Base):
    __tablename__ = "supplier_floors"
    supplier: Mapped[str] = mapped_column(ForeignKey("suppliers.name", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_hour: Mapped[Decimal] = mapped_column(DecimalText)


class OrderRow(Base):
    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    form: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    """Indexed (migration 0022): the live mix of typical requests reads the newest orders."""
    ordered_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", name="fk_orders_ordered_by"),
                                                   nullable=True, index=True)
    """The account (the organisation's own, or one of its members) that placed the order (0018)."""
    committed: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    """What the order commits against its member's monthly spend limit (domain.members.order_commitment)."""
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key", name="uq_orders_tenant_idem"),)


class LeaseRow(Base):
    __tablename__ = "leases"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    form: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    commission_rate: Mapped[Decimal] = mapped_column(DecimalText)
    placement: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint(
            "state in ('pending','scheduled','active','ended','cancelled','rejected','interrupted','suspended')",
            name="ck_leases_state",
        ),
        CheckConstraint("end_at is null or end_at > start_at", name="ck_leases_window"),
    )


class AllocationRow(Base):
    """A lease's hold on one device (or a fraction) over [start_at, end_at).

    ``start_at`` is the instant of the grant (the transaction that claimed the device), or the
    reserved start of a reservation granted earlier; ``end_at`` the instant it was given up (or
    the fixed end). A window given up in the second it was granted is kept, zero-length
    (``end_at = start_at``: zero seconds held or billed); rows are never deleted.

    The database refuses a row that would make the device's load (summed ``milli`` of the rows
    whose window contains an instant) exceed 1000 at any instant: see
    :mod:`suanli.store.capacity` (exclusion constraint + trigger on PostgreSQL, triggers on
    SQLite). Device memory is not in the table and not checked there (placement checks it).

    ``drawn_from``: the lease id of a reservation (a term plan's capacity) this allocation draws
    on, or NULL. A drawn row does not count against the device's capacity again: the
    reservation's own allocation already holds it.
    """

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    milli: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(Integer, default=0)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    drawn_from: Mapped[str | None] = mapped_column(ForeignKey("leases.id", name="fk_allocations_drawn_from"),
                                                   nullable=True)
    __table_args__ = (
        CheckConstraint("milli >= 1 and milli <= 1000", name="ck_allocations_milli"),
        CheckConstraint("end_at is null or end_at >= start_at", name="ck_allocations_window"),
        Index("ix_allocations_device_window", "device_id", "start_at"),
        Index("ix_allocations_device_end", "device_id", "end_at"),
    )


class LeaseEventRow(Base):
    """Audit trail of lease state changes: what happened and why (shown to the tenant)."""

    __tablename__ = "lease_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(120), default="", server_default="")
    """Who caused the change: an account name, or ``system`` (the platform's own reconcilers)."""


class MemberSpendRow(Base):
    """A member's spend that no order or package row carries: the quoted cost of the time it added to
    a lease by extending it (migration 0018). Read with orders.committed and packages.price by
    ``store.members.spent``."""

    __tablename__ = "member_spend"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id"))
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

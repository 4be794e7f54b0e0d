"""The audit trail's table and its reader. Rows are written by :mod:`suanli.store.audit_recorder`
in the transaction of the change they record.

Append-only is kept by the database, not by this code: triggers refuse every ``UPDATE`` and
``DELETE`` on ``audit_events`` (SQLite: ``RAISE(ABORT)``; PostgreSQL: a ``BEFORE UPDATE OR DELETE``
row trigger and a ``BEFORE TRUNCATE`` statement trigger), with a message containing
:data:`APPEND_ONLY`. They are created by migration 0019 (:func:`install_triggers`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Connection,
    Index,
    Integer,
    String,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.audit import AuditAction, AuditActor, AuditEvent, AuditFilter
from suanli.store.tables import Base
from suanli.store.types import UTCDateTime

APPEND_ONLY = "audit_events is append-only"

BigId = BigInteger().with_variant(Integer, "sqlite")


class AuditEventRow(Base):
    """One recorded change (see :class:`suanli.domain.audit.AuditEvent`); never updated or deleted."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[str] = mapped_column(String(32), default="")
    actor_name: Mapped[str] = mapped_column(String(120), index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    token_prefix: Mapped[str] = mapped_column(String(16), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(8), default="")
    path: Mapped[str] = mapped_column(String(400), default="")
    action: Mapped[str] = mapped_column(String(16))
    object_type: Mapped[str] = mapped_column(String(48))
    object_id: Mapped[str] = mapped_column(String(200), default="")
    tenant_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        CheckConstraint("action in ('create','update','delete')", name="ck_audit_events_action"),
    )


_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS tr_audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: rows are never changed'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS tr_audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: rows are never deleted'); END""",
]
_PG = [
    f"""CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = '{APPEND_ONLY}: ' || TG_OP || ' refused';
        END $$""",
    "DROP TRIGGER IF EXISTS tr_audit_events_append_only ON audit_events",
    """CREATE TRIGGER tr_audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    "DROP TRIGGER IF EXISTS tr_audit_events_no_truncate ON audit_events",
    """CREATE TRIGGER tr_audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""",
]


def install_triggers(conn: Connection) -> None:
    for sql in _PG if conn.dialect.name == "postgresql" else _SQLITE:
        conn.execute(text(sql))


def drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER IF EXISTS tr_audit_events_append_only ON audit_events"))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_audit_events_no_truncate ON audit_events"))
        conn.execute(text("DROP FUNCTION IF EXISTS audit_events_append_only()"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS tr_audit_events_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_audit_events_no_delete"))


def _event(r: AuditEventRow) -> AuditEvent:
    actor = AuditActor(r.actor_id, r.actor_name, r.actor_role, r.token_prefix, r.address, r.method, r.path)
    return AuditEvent(r.id, r.at, actor, AuditAction(r.action), r.object_type, r.object_id, r.tenant_id,
                      dict(r.changes or {}))


def _query(f: AuditFilter) -> Any:
    q = select(AuditEventRow)
    if f.actor is not None:
        q = q.where(or_(AuditEventRow.actor_name == f.actor, AuditEventRow.actor_id == f.actor))
    if f.action is not None:
        q = q.where(AuditEventRow.action == f.action.value)
    if f.object_type is not None:
        q = q.where(AuditEventRow.object_type == f.object_type)
    if f.object_id is not None:
        q = q.where(AuditEventRow.object_id == f.object_id)
    if f.tenant_id is not None:
        q = q.where(AuditEventRow.tenant_id == f.tenant_id)
    if f.since is not None:
        q = q.where(AuditEventRow.at >= f.since)
    if f.until is not None:
        q = q.where(AuditEventRow.at < f.until)
    return q


def list_events(s: Session, f: AuditFilter, *, offset: int = 0, limit: int = 50) -> list[AuditEvent]:
    """Newest first."""
    q = _query(f).order_by(AuditEventRow.id.desc()).offset(offset).limit(limit)
    return [_event(r) for r in s.scalars(q)]


def events_after(s: Session, f: AuditFilter, after: int, limit: int) -> list[AuditEvent]:
    """Oldest first from id ``after`` on (keyset paging for exports: no offset scans)."""
    q = _query(f).where(AuditEventRow.id > after).order_by(AuditEventRow.id).limit(limit)
    return [_event(r) for r in s.scalars(q)]

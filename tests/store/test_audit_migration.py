"""Migration 0019 (the audit trail: audit_events with its append-only triggers, lease_events.actor)
goes up, down and up again on SQLite and PostgreSQL; the triggers refuse UPDATE and DELETE after each
upgrade."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from suanli.store.audit import APPEND_ONLY
from suanli.store.db import alembic_config


def test_0019_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def tables() -> set[str]:
        return set(inspect(engine).get_table_names())

    def event_columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("lease_events")}

    def to(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    def refused(sql: str) -> None:
        with pytest.raises(DBAPIError, match=APPEND_ONLY), engine.begin() as c:
            c.execute(text(sql))

    insert = text("INSERT INTO audit_events (at, actor_name, actor_role, action, object_type, object_id, changes) "
                  "VALUES ('2026-12-01 00:00:00+00', 'operator', 'operator', 'update', 'prices', '1', '{}')")
    try:
        to("0018", True)
        assert "audit_events" not in tables() and "actor" not in event_columns()
        to("0019", True)
        assert "audit_events" in tables() and "actor" in event_columns()
        with engine.begin() as c:
            c.execute(insert)
        refused("UPDATE audit_events SET actor_name = 'x'")
        refused("DELETE FROM audit_events")
        to("0018", False)
        assert "audit_events" not in tables() and "actor" not in event_columns()
        to("head", True)
        with engine.begin() as c:
            c.execute(insert)
        refused("DELETE FROM audit_events")
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
    finally:
        engine.dispose()

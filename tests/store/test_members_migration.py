"""Migration 0018 (organisation members, spend limits, who ordered) goes up, down and up again on
SQLite and PostgreSQL, in place: an account's tokens survive it, and the member role is checked."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from suanli.store.db import alembic_config

NEW = {"organisation_id", "member_role", "spend_limit", "removed_at"}


def test_0018_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def cols(table: str) -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    def to(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    try:
        to("0017", True)
        with engine.begin() as c:
            c.execute(text("INSERT INTO accounts (id, name, role, created_at) "
                           "VALUES ('acc_1', 't', 'tenant', '2026-01-01 00:00:00+00:00')"))
            c.execute(text("INSERT INTO api_tokens (account_id, token_hash, prefix, created_at) "
                           "VALUES ('acc_1', 'h', 'p', '2026-01-01 00:00:00+00:00')"))
        to("0018", True)
        assert cols("accounts") >= NEW and {"ordered_by", "committed"} <= cols("orders")
        assert "bought_by" in cols("packages")
        assert {"account_id", "lease_id", "amount", "at"} <= cols("member_spend")
        with pytest.raises(IntegrityError), engine.begin() as c:
            c.execute(text("UPDATE accounts SET member_role = 'boss' WHERE id = 'acc_1'"))
        to("0017", False)
        assert not NEW & cols("accounts") and "ordered_by" not in cols("orders")
        assert "member_spend" not in inspect(engine).get_table_names()
        with engine.begin() as c:
            assert c.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 1
        to("head", True)
        assert cols("accounts") >= NEW
    finally:
        engine.dispose()

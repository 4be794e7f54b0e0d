"""Migration 0017 (API tokens: label, scope and lease, expiry, last use) goes up, down and up again on
SQLite and PostgreSQL; a token made before it is a full token without expiry, and the database refuses
a lease token without a lease (or a lease on another scope)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from suanli.store.db import alembic_config

NEW = {"label", "scope", "lease_id", "expires_at", "last_used_at"}


def test_0017_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("api_tokens")}

    def to(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    try:
        to("0016", True)
        assert not NEW & columns()
        with engine.begin() as c:
            c.execute(text("INSERT INTO accounts (id, name, role, created_at) VALUES "
                           "('acc_1', 'acme', 'tenant', '2026-12-01 00:00:00')"))
            c.execute(text("INSERT INTO api_tokens (account_id, token_hash, prefix, created_at) VALUES "
                           "('acc_1', 'h1', 'sl_old', '2026-12-01 00:00:00')"))
        to("0017", True)
        assert columns() >= NEW
        with engine.connect() as c:
            row = c.execute(text("SELECT scope, label, lease_id, expires_at FROM api_tokens")).one()
        assert tuple(row) == ("full", "", None, None)
        for scope, lease in (("lease", None), ("read", "lse_x"), ("admin", None)):
            try:
                with engine.begin() as c:
                    c.execute(text("INSERT INTO api_tokens (account_id, token_hash, prefix, created_at, scope, "
                                   "lease_id) VALUES ('acc_1', :h, 'sl_x', '2026-12-01 00:00:00', :scope, :lease)"),
                              {"h": f"h-{scope}", "scope": scope, "lease": lease})
            except IntegrityError:
                continue
            raise AssertionError(f"the database took scope={scope} lease={lease}")
        to("0016", False)
        assert not NEW & columns()
        to("head", True)
        assert columns() >= NEW
    finally:
        engine.dispose()

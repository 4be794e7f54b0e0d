"""Migration 0022 (an index on orders.created_at, read by the live mix of typical requests) goes up,
down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from suanli.store.db import alembic_config


def test_0022_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def to(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    def indexed() -> bool:
        return any(ix["column_names"] == ["created_at"] for ix in inspect(engine).get_indexes("orders"))

    try:
        to("0022", True)
        assert indexed()
        to("0021", False)
        assert not indexed()
        to("head", True)
        assert indexed()
    finally:
        engine.dispose()

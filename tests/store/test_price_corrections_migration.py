"""Migration 0008 (price corrections) goes up, down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from suanli.store.db import alembic_config


def test_0008_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def tables() -> set[str]:
        return set(inspect(engine).get_table_names())

    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0008")
        assert {"price_corrections", "price_correction_notes"} <= tables()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        assert not {"price_corrections", "price_correction_notes"} & tables()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert {"price_corrections", "price_correction_notes"} <= tables()
    finally:
        engine.dispose()

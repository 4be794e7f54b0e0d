"""Migration 0020 (the capacity checks skip UPDATEs that only shrink an allocation) goes up, down and
up again on SQLite and PostgreSQL; the installed check says which rule is in force."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from suanli.store.db import alembic_config


def test_0020_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def to(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    def exempts_shrinking() -> bool:
        q = ("SELECT prosrc FROM pg_proc WHERE proname = 'allocations_within_capacity'" if engine.dialect.name ==
             "postgresql" else "SELECT sql FROM sqlite_master WHERE name = 'tr_allocations_capacity_update'")
        with engine.connect() as c:
            body = c.execute(text(q)).scalar_one()
        return "NEW.end_at <= OLD.end_at" in body

    try:
        to("0020", True)
        assert exempts_shrinking()
        to("0019", False)
        assert not exempts_shrinking()
        to("head", True)
        assert exempts_shrinking()
    finally:
        engine.dispose()

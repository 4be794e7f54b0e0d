"""Migration 0015 (debit notes, paid debit notes, who gave a credit note) goes up, down and up again
on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from suanli.store.db import alembic_config


def test_0015_up_down_up(db_url: str | None, tmp_path: object) -> None:
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def shape() -> tuple[bool, set[str], set[str]]:
        i = inspect(engine)
        return ("debit_notes" in i.get_table_names(),
                {c["name"] for c in i.get_columns("price_correction_notes")},
                {c["name"] for c in i.get_columns("credit_notes")})

    def to(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    try:
        to("0015", True)
        debits, pcn, cn = shape()
        assert debits and "paid_at" in pcn and "actor_name" in cn
        to("0014", False)
        debits, pcn, cn = shape()
        assert not debits and "paid_at" not in pcn and "actor_name" not in cn
        to("head", True)
        assert shape()[0]
    finally:
        engine.dispose()

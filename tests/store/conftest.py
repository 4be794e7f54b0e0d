"""Migration tests: a database (SQLite file or a fresh PostgreSQL one) to move up and down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine

from suanli.store.db import alembic_config


@pytest.fixture
def migrated(db_url: str | None, tmp_path: Path) -> Iterator[tuple[Engine, Callable[[str, bool], None]]]:
    """The engine, and ``migrate(revision, up)``: upgrade (``up``) or downgrade to ``revision``."""
    url = (db_url or f"sqlite:///{tmp_path}/m.db").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    cfg = alembic_config(url)

    def migrate(rev: str, up: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, rev)

    try:
        yield engine, migrate
    finally:
        engine.dispose()

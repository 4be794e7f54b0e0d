"""Alembic environment: runs on the connection handed in by ``store.db.upgrade`` (or a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from suanli.store import (
    agent_tables,
    capacity_series,
    defrag_tables,
    engine_tables,
    inference_tables,
    leadership,
    legal,
    money_tables,
    oversub_tables,
    queue_tables,
    shapes_tables,
    slices_tables,
    whatif,
)
from suanli.store.tables import Base

TABLE_MODULES = (engine_tables, money_tables, leadership, capacity_series, legal, whatif, agent_tables, inference_tables,
                 oversub_tables, queue_tables, shapes_tables, slices_tables, defrag_tables)
"""Importing these registers their tables on ``Base.metadata`` (what autogenerate compares)."""

config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as c:
        context.configure(connection=c, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()

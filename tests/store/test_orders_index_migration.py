"""Migration 0022 (an index on orders.created_at, read by the live mix of typical requests) goes up,
down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, inspect


def test_0022_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def indexed() -> bool:
        return any(ix["column_names"] == ["created_at"] for ix in inspect(engine).get_indexes("orders"))

    to("0022", True)
    assert indexed()
    to("0021", False)
    assert not indexed()
    to("head", True)
    assert indexed()

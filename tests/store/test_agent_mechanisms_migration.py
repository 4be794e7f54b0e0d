"""Migration 0034 (agent_nodes.slice_mechanisms) goes up, down and up again on SQLite and PostgreSQL; an agent
that joined before it reports nothing ("" = none) until its next heartbeat."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, inspect


def test_0034_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def has() -> bool:
        return "slice_mechanisms" in {c["name"] for c in inspect(engine).get_columns("agent_nodes")}

    to("0034", True)
    assert has()
    to("0033", False)
    assert not has()
    to("head", True)
    assert has()

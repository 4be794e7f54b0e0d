"""Migration 0033 (defragmentation) goes up, down and up again on SQLite and PostgreSQL; a plan's state outside
its state machine and a notice outside 0..86400 s are refused by the database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

TABLES = {"defrag_settings", "migratable_leases", "defrag_plans", "defrag_moves"}


def test_0033_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def present() -> set[str]:
        return TABLES & set(inspect(engine).get_table_names())

    to("0033", True)
    assert present() == TABLES
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(text("INSERT INTO defrag_plans (id, state, auto, targets, summary, notice_s, created_by, created_at) "
                       "VALUES ('p1', 'paused', false, '[]', '', 0, 'op', '2026-12-01 00:00:00+00:00')"))
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(text("INSERT INTO defrag_settings (auto, notice_s, discount_pct, set_by, set_at) "
                       "VALUES (false, 90000, '0', 'op', '2026-12-01 00:00:00+00:00')"))
    to("0032", False)
    assert present() == set()
    to("head", True)
    assert present() == TABLES

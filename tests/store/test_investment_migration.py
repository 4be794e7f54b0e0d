"""Migration 0023 (investment inputs: node_capex, site_opex, investment_settings) goes up, down and up
again on SQLite and PostgreSQL; a capex row must name a node of the fleet."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

TABLES = {"node_capex", "site_opex", "investment_settings"}


def test_0023_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated
    to("0023", True)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with pytest.raises(IntegrityError), engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(text("PRAGMA foreign_keys=ON"))
        c.execute(text("INSERT INTO node_capex (node, capex, residual, currency, purchased_on, updated_at) VALUES "
                       "('no-such-node', '1', '0', 'CNY', '2026-01-01', '2026-01-01 00:00:00')"))
    to("0022", False)
    assert not TABLES & set(inspect(engine).get_table_names())
    to("head", True)
    assert set(inspect(engine).get_table_names()) >= TABLES

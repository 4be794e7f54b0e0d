"""Migration 0025 (what-if runs) goes up, down and up again on SQLite and PostgreSQL, and the table
refuses a state outside the run's state machine."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError


def test_0025_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def present() -> bool:
        return "whatif_runs" in inspect(engine).get_table_names()

    to("0025", True)
    assert present()
    cols = {c["name"] for c in inspect(engine).get_columns("whatif_runs")}
    assert {"state", "progress", "params", "result", "heartbeat_at", "replica", "cancel_requested"} <= cols
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(text("INSERT INTO whatif_runs (id, state, progress, params, error, estimate_seconds, created_at, "
                       "created_by, heartbeat_at, replica, cancel_requested, seq) VALUES ('w1', 'paused', '0', '{}', "
                       "'', '1', '2026-12-01 00:00:00+00:00', 'op', '2026-12-01 00:00:00+00:00', '', false, 1)"))
    to("0024", False)
    assert not present()
    to("head", True)
    assert present()

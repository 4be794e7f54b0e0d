"""Migration 0024 (the capacity time series) goes up, down and up again on SQLite and PostgreSQL, and
its key refuses a second row for one node, span start and resolution."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

ROW = ("INSERT INTO capacity_samples (resolution, bucket_start, seconds, node, site, model, supplier, devices, state, "
       "available, down, allocated, rented, fragmented, unrented, busy, measured, it_kwh, measured_kwh, "
       "facility_kwh, power_cost) VALUES ('raw', '2026-12-01 08:00:00', '60', 'n1', 's', 'H800', 'sup', 8, "
       "'available', '480', '0', '0', '0', '0', '480', '0', '0', '0', '0', '0', '0')")


def test_0024_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated
    to("0024", True)
    assert "capacity_samples" in inspect(engine).get_table_names()
    with engine.begin() as c:
        c.execute(text(ROW))
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(text(ROW))
    to("0023", False)
    assert "capacity_samples" not in inspect(engine).get_table_names()
    to("head", True)
    assert "capacity_samples" in inspect(engine).get_table_names()

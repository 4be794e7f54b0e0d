"""Migration 0035 (one mechanism per device: triggers on slice_grants and allocations) goes up, down and up again
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text


def test_0035_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def triggers() -> set[str]:
        q = ("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tr_%mixing%'" if engine.dialect.name == "postgresql"
             else "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tr_%mixing%'")
        with engine.connect() as c:
            return set(c.execute(text(q)).scalars())

    want = ({"tr_slice_grants_mixing", "tr_allocations_mixing"} if engine.dialect.name == "postgresql" else
            {f"tr_{t}_mixing_{e}" for t in ("slice_grants", "allocations") for e in ("insert", "update")})
    to("0035", True)
    assert triggers() == want
    to("0034", False)
    assert triggers() == set()
    to("head", True)
    assert triggers() == want

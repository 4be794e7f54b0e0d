"""Migration 0020 (the capacity checks skip UPDATEs that only shrink an allocation) goes up, down and
up again on SQLite and PostgreSQL; the installed check says which rule is in force."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text


def test_0020_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def exempts_shrinking() -> bool:
        q = ("SELECT prosrc FROM pg_proc WHERE proname = 'allocations_within_capacity'" if engine.dialect.name ==
             "postgresql" else "SELECT sql FROM sqlite_master WHERE name = 'tr_allocations_capacity_update'")
        with engine.connect() as c:
            body = c.execute(text(q)).scalar_one()
        return "NEW.end_at <= OLD.end_at" in body

    to("0020", True)
    assert exempts_shrinking()
    to("0019", False)
    assert not exempts_shrinking()
    to("head", True)
    assert exempts_shrinking()

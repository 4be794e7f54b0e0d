"""Migration 0026 (legal profiles, tax rates, what an issued invoice keeps, supplier payouts) goes up,
down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, inspect

TABLES = {"legal_profiles", "tax_rates", "invoice_legal", "supplier_payouts"}


def test_0026_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, migrate = migrated

    def tables() -> set[str]:
        return set(inspect(engine).get_table_names()) & TABLES

    migrate("0026", True)
    assert tables() == TABLES
    cols = {c["name"] for c in inspect(engine).get_columns("supplier_payouts")}
    assert {"paid_on", "reference", "periods", "idempotency_key", "entry_id"} <= cols
    migrate("0025", False)
    assert tables() == set()
    migrate("head", True)
    assert tables() == TABLES

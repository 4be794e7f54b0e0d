"""Revision 0012 on a real database (SQLite and PostgreSQL): every ``commit`` plan recorded before
it held no devices, so it becomes a ``spend_commitment``; the kind is allowed from then on and
refused before; the downgrade gives the old names back."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from suanli.service.platform import Platform
from suanli.store import capacity

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _revision() -> ModuleType:
    path = Path(capacity.__file__).parent / "migrations" / "versions" / "0012_terms_hold_capacity.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(conn: Connection, step: str) -> None:
    with Operations.context(MigrationContext.configure(conn, opts={"render_as_batch": True})):
        getattr(_revision(), step)()


def _plan(conn: Connection, plan_id: str, kind: str) -> None:
    conn.execute(text("INSERT INTO price_plans (id, tenant, order_id, kind, name, effective_from, spec, paid, "
                      "created_at) VALUES (:id, 't', '', :kind, '', :t, :spec, :paid, :t)"),
                 {"id": plan_id, "kind": kind, "t": T0, "paid": False,
                  "spec": '{"commit_meter": "device_seconds", "commit_model": "L20", "commit_quantity": "10", '
                          '"commit_price": "2"}'})


def test_commit_plans_recorded_before_become_spend_commitments(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        _run(conn, "downgrade")  # the schema as it was at revision 0011
        _plan(conn, "pl_old", "commit")
    with pytest.raises(IntegrityError), platform.engine.begin() as conn:
        _plan(conn, "pl_new", "spend_commitment")  # not a kind before 0012
    with platform.engine.begin() as conn:
        _run(conn, "upgrade")
        _plan(conn, "pl_new", "spend_commitment")
        kinds = dict(conn.execute(text("SELECT id, kind FROM price_plans ORDER BY id")).all())
    assert kinds == {"pl_new": "spend_commitment", "pl_old": "spend_commitment"}
    with platform.engine.begin() as conn:
        _run(conn, "downgrade")
        assert set(conn.execute(text("SELECT kind FROM price_plans")).scalars()) == {"commit"}
        _run(conn, "upgrade")

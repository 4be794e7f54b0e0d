"""PostgreSQL's pool pings a connection only when it was idle (``suanli.store.db.ping_when_idle``,
docs/performance.md "ORDERS2"): one handed back a moment ago is reused without a round trip, and one
that died while idle (the server dropped it) is replaced before a transaction uses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from suanli.store import db
from suanli.store.db import make_engine, ping_when_idle


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the pings the pool sends (the real ping still runs)."""
    seen: list[int] = []
    from sqlalchemy.dialects.postgresql import _psycopg_common

    real = _psycopg_common._PGDialect_common_psycopg.do_ping

    def counted(self: Any, dbapi_connection: Any) -> bool:
        seen.append(1)
        return bool(real(self, dbapi_connection))

    monkeypatch.setattr(_psycopg_common._PGDialect_common_psycopg, "do_ping", counted)
    return seen


def _engine(url: str, idle_s: float) -> Engine:
    e = create_engine(_psycopg(url), pool_size=1, max_overflow=0)
    ping_when_idle(e, idle_s)
    return e


@pytest.fixture
def pg(db_url: str | None) -> Iterator[str]:
    assert db_url is not None
    yield db_url


def _backend_pid(e: Engine) -> int:
    with e.connect() as c:
        return int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite has no pool ping (a local file)
def test_a_connection_back_a_moment_ago_is_not_pinged(pg: str, pings: list[int]) -> None:
    e = _engine(pg, idle_s=3600)
    try:
        first = _backend_pid(e)
        for _ in range(5):
            assert _backend_pid(e) == first  # the same pooled connection each time
        assert pings == []
    finally:
        e.dispose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(pg: str, pings: list[int]) -> None:
    e = _engine(pg, idle_s=0)  # every connection back in the pool counts as idle
    admin = create_engine(_psycopg(pg), isolation_level="AUTOCOMMIT")
    try:
        first = _backend_pid(e)
        assert _backend_pid(e) == first and len(pings) == 1  # alive: pinged, kept
        with admin.connect() as c:  # the server drops the idle pooled connection
            assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        replaced = _backend_pid(e)  # no error: the failed ping made the pool open a new one
        assert replaced != first and len(pings) == 2
    finally:
        admin.dispose()
        e.dispose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_server_engine_pings_idle_connections_only(pg: str) -> None:
    e = make_engine(_psycopg(pg))
    try:
        assert not e.pool._pre_ping  # no ping on every checkout
        assert db.PING_IDLE_S > 0
    finally:
        e.dispose()

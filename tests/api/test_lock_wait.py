"""A database lock that is not granted within the server's bound answers 503 ``busy`` with
``Retry-After`` (the request's transaction rolled back), never a 500: SQLite's write lock held by
another connection past ``lock_wait_seconds`` (the busy timeout), and on PostgreSQL a row lock held
past ``lock_timeout``."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform


@pytest.fixture
def quick(demo: Platform) -> Iterator[Platform]:
    """The demo platform's database, reopened with a lock wait of 0.3 s."""
    settings = dataclasses.replace(demo.settings, lock_wait_seconds=0.3)
    p = Platform(settings, clock=demo.clock)
    yield p
    p.close()


def test_a_lock_held_past_the_bound_answers_503_busy_and_writes_nothing(quick: Platform, operator: Principal,
                                                                       demo: Platform) -> None:
    token = accounts.issue_token(quick, operator, operator.name)
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(quick)) as c:
        before = c.get("/v1/accounts", headers=h).json()
        holder = hold_write_lock(demo)
        try:
            r = c.post("/v1/accounts", json={"name": "late", "role": "tenant"}, headers=h)
        finally:
            holder()
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "busy"
        assert r.headers["Retry-After"] == "1"
        assert "nothing was written" in r.json()["error"]["message"]
        after = c.get("/v1/accounts", headers=h).json()
        assert [a["name"] for a in after] == [a["name"] for a in before]
        # the lock gone, the same request goes through
        assert c.post("/v1/accounts", json={"name": "late", "role": "tenant"}, headers=h).status_code == 201


def hold_write_lock(p: Platform) -> Callable[[], None]:
    """Take the database's write lock from another connection; returns the release."""
    if p.dialect == "sqlite":
        path = p.engine.url.database
        assert path
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")

        def release() -> None:
            conn.execute("ROLLBACK")
            conn.close()
        return release
    c = p.engine.connect()
    tx = c.begin()
    c.execute(text("LOCK TABLE accounts IN EXCLUSIVE MODE"))

    def release_pg() -> None:
        tx.rollback()
        c.close()
    return release_pg


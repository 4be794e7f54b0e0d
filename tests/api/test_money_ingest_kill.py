"""Kill -9 mid-ingest, restart, resend everything: nothing lost, nothing double-counted.

A real ``suanli serve`` process on PostgreSQL receives batches with known ids from a sender
thread; when part of them is stored the server is killed with SIGKILL by its PID, started again
on the same database, and every batch is sent again. Every batch acknowledged before the kill
must be stored; after the resend each event is stored exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from suanli.testing.serve import start_serve

PG_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL")
REQUIRE = os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1"
BATCHES, PER_BATCH = 120, 500
DEADLINE_S = 120.0


@pytest.fixture
def pg_db() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE:
            pytest.fail("SUANLI_TEST_POSTGRES_URL is not set but services are required")
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    name = "kill_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stored(db: str) -> tuple[int, int, Decimal]:
    eng = create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with eng.connect() as c:
            n, distinct, total = c.execute(text(
                "SELECT count(*), count(DISTINCT event_id), coalesce(sum(quantity), 0) FROM usage_events "
                "WHERE source = 'agent/kill'")).one()
    finally:
        eng.dispose()
    return int(n), int(distinct), Decimal(total)


def batch(k: int) -> bytes:
    return json.dumps({"events": [
        {"id": f"k{k}-{j}", "source": "agent/kill", "type": "egress_gb", "subject": "acme",
         "time": "2026-01-01T00:00:00Z", "data": {"quantity": str(k + 1)}} for j in range(PER_BATCH)]}).encode()


def test_kill_9_mid_ingest_then_resend_everything(pg_db: str, tmp_path: Path) -> None:
    srv = start_serve(tmp_path, database_url=pg_db, deadline_s=DEADLINE_S)
    try:
        url, op = srv.url, srv.tokens()["operator"]
        h = {"Authorization": f"Bearer {op}", "Content-Type": "application/json"}
        assert httpx.post(f"{url}/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=h).status_code == 201
        acked: list[int] = []
        errors: list[str] = []

        def send() -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                for k in range(BATCHES):
                    try:
                        r = c.post("/v1/usage/batch", content=batch(k), headers=h)
                    except httpx.TransportError as e:
                        errors.append(type(e).__name__)
                        return
                    assert r.status_code == 202, r.text
                    acked.append(k)

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + DEADLINE_S
        while stored(pg_db)[0] < BATCHES * PER_BATCH // 3:
            assert time.monotonic() < deadline and sender.is_alive(), "ingest did not progress"
            time.sleep(0.05)  # bounded poll of the database
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=30)
        sender.join(timeout=60)
        assert errors, "the sender should have lost its server mid-way"
        n_before, distinct_before, _ = stored(pg_db)
        assert n_before == distinct_before and n_before % PER_BATCH == 0  # whole batches or nothing
        assert n_before >= len(acked) * PER_BATCH  # every acknowledged batch survived the kill
        assert n_before < BATCHES * PER_BATCH

        srv = start_serve(tmp_path, database_url=pg_db, deadline_s=DEADLINE_S)
        url, op = srv.url, srv.tokens()["operator"]
        h["Authorization"] = f"Bearer {op}"
        accepted = duplicates = 0
        with httpx.Client(base_url=url, timeout=30) as c:
            for k in range(BATCHES):
                r = c.post("/v1/usage/batch", content=batch(k), headers=h)
                assert r.status_code == 202, r.text
                accepted += r.json()["accepted"]
                duplicates += r.json()["duplicates"]
        n, distinct, total = stored(pg_db)
        assert n == distinct == BATCHES * PER_BATCH
        assert accepted == BATCHES * PER_BATCH - n_before and duplicates == n_before
        assert total == PER_BATCH * sum(k + 1 for k in range(BATCHES))
    finally:
        srv.stop()

"""End-to-end fixtures of the inference service: a real ``suanli serve --demo`` process (the local
engine, the real sandbox) on SQLite in tmp_path or on a throwaway database of the test PostgreSQL,
with the operator's two deployments (``all-minilm-l6-v2`` embeddings, ``tiny-gpt`` generation)
started once per module and backend (a replica's cold start is seconds on a busy machine)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from suanli.testing.inference import LAB_ENV, InferenceLab
from suanli.testing.serve import clean_env, start_serve

PG_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL")
REQUIRE = os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data dir) or the URL of a new, empty PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        if REQUIRE:
            pytest.fail("SUANLI_TEST_POSTGRES_URL is not set but services are required")
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    name = "inf_e2e_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def lab(database: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceLab]:
    """The server, with the operator's embedding and generation deployments ready."""
    data = tmp_path_factory.mktemp("inf")
    srv = start_serve(Path(data), database_url=database, env=clean_env(**LAB_ENV), deadline_s=90)
    lab = InferenceLab.of(srv)
    try:
        emb = lab.deploy(name="all-minilm-l6-v2", kind="embed", model="all-minilm-l6-v2",
                         min_replicas=1, max_replicas=1)
        gen = lab.deploy(name="tiny-gpt", kind="generate", model="tiny-gpt", min_replicas=1, max_replicas=1,
                         target_inflight=4)
        # list prices per million tokens high enough that a handful of calls costs more than a fen
        for model in ("tiny-gpt", "all-minilm-l6-v2"):
            lab.ok("operator", "POST", "/v1/prices/tokens", json={
                "model": model, "input": {"price": "20000"}, "output": {"price": "60000"}, "cached": {"price": "5000"}})
        lab.wait_ready(emb["id"])
        lab.wait_ready(gen["id"])
        lab.deployments.update(embed=emb, generate=gen)
        yield lab
    finally:
        lab.stop()  # deployments deleted and their replicas stopped before the server


@pytest.fixture(scope="module")
def deployments(lab: InferenceLab) -> dict[str, Any]:
    return lab.deployments

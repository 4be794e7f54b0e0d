"""Shared fixtures: a platform on real SQLite and, when configured, on a real PostgreSQL.

``SUANLI_TEST_POSTGRES_URL`` (set by scripts/test, which starts a throwaway server) adds a
``postgres`` variant to every test that uses the ``platform`` fixture. With
``SUANLI_TEST_REQUIRE_SERVICES=1`` a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from suanli.domain.accounts import Principal
from suanli.domain.demo import demo_fleet
from suanli.service import accounts, fleet
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

PG_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL")
REQUIRE = os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1"


def _tenant_accounts() -> set[str]:
    import pwd

    from suanli.drivers.unix_accounts import GECOS

    return {e.pw_name for e in pwd.getpwall() if e.pw_gecos.startswith(GECOS)}


@pytest.fixture(scope="session", autouse=True)
def _remove_tenant_accounts() -> Iterator[None]:
    """Sandboxed jobs create tenants' Unix accounts (suanli-<tenant>); remove the ones this run made."""
    before = _tenant_accounts()
    yield
    import subprocess

    for name in sorted(_tenant_accounts() - before):
        subprocess.run(["userdel", name], capture_output=True, check=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC))


def _pg_database() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE:
            pytest.fail("SUANLI_TEST_POSTGRES_URL is not set but services are required")
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        yield from _pg_database()


@pytest.fixture
def platform(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    p = Platform(Settings(data_dir=tmp_path / "data", database_url=db_url), clock=clock)
    yield p
    p.close()


@pytest.fixture
def operator(platform: Platform) -> Principal:
    token = accounts.bootstrap_operator(platform)
    assert token is not None
    return accounts.authenticate(platform, token)


@pytest.fixture
def demo(platform: Platform, operator: Principal) -> Platform:
    fleet.import_fleet(platform, operator, demo_fleet())
    return platform


@pytest.fixture
def tenant(demo: Platform, operator: Principal) -> Principal:
    return make_tenant(demo, operator, "acme")

"""Client fixtures: the real app over a real database (root ``platform`` fixture), reached through
FastAPI's ``TestClient`` (an ``httpx.Client`` over ASGI) injected into :class:`SuanliClient`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.client import SuanliClient
from suanli.domain.demo import demo_fleet
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Overrides the root ``clock``: the platform fixture runs on this hand-moved clock."""
    return FakeClock(datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC))


@pytest.fixture
def http(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as tc:
        yield tc


@pytest.fixture
def connect(http: TestClient) -> Callable[[str | None], SuanliClient]:
    """``connect(token)``: a client speaking as that token."""
    return lambda token: SuanliClient("http://testserver", token, http=http)


@pytest.fixture
def op(platform: Platform, connect: Callable[[str | None], SuanliClient]) -> SuanliClient:
    """The operator (first-start token, as ``suanli serve`` prints it), with the demo fleet imported."""
    token = accounts.bootstrap_operator(platform)
    assert token
    c = connect(token)
    c.import_fleet(demo_fleet())
    return c


@pytest.fixture
def tenant(op: SuanliClient, connect: Callable[[str | None], SuanliClient]) -> SuanliClient:
    return connect(op.create_account("acme", "tenant").token)

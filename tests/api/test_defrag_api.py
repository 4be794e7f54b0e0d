"""The defragmentation routes over HTTP (SQLite and PostgreSQL): a plan id that is not a name is refused
with a 422 naming it, before any query (a NUL in the path reached PostgreSQL's query as a 500)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform

H = dict[str, str]


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, H]]:
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}


@pytest.mark.parametrize("method, suffix", [("GET", ""), ("POST", "/approve"), ("POST", "/cancel")])
@pytest.mark.parametrize("plan_id", ["dfg%00x", "dfg%1Bx", "%E2%80%AEdfg"])
def test_a_plan_id_that_is_not_a_name_is_a_422(http: tuple[TestClient, H], method: str, suffix: str,
                                               plan_id: str) -> None:
    c, op = http
    r = c.request(method, f"/v1/defrag/plans/{plan_id}{suffix}", headers=op)
    assert r.status_code == 422, r.text
    assert "defrag_plan_id" in r.text


def test_an_unknown_plan_is_a_404(http: tuple[TestClient, H]) -> None:
    c, op = http
    r = c.get("/v1/defrag/plans/dfg_000000000000", headers=op)
    assert r.status_code == 404, r.text

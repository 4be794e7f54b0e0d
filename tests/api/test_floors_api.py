"""GET /v1/suppliers/{supplier}/floors: the floor prices in force. The operator reads any
supplier's, a supplier its own (another's answers 404, as if it did not exist), a tenant none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def account(c: TestClient, op: dict[str, str], name: str, role: str = "tenant", supplier: str | None = None
            ) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_floors_in_force_after_a_set(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    sup = account(c, op, "xibu-sales", "supplier", "xibu-compute")
    before = c.get("/v1/suppliers/xibu-compute/floors", headers=sup)
    assert before.status_code == 200, before.text
    assert before.json() == [
        {"supplier": "xibu-compute", "model": "Ascend-910B", "device_hour": "1.6"},
        {"supplier": "xibu-compute", "model": "RTX-4090", "device_hour": "1.2"},
    ]
    r = c.put("/v1/suppliers/xibu-compute/floors", json={"model": "RTX-4090", "device_hour": "1.35"}, headers=sup)
    assert r.status_code == 200, r.text
    r = c.put("/v1/suppliers/xibu-compute/floors", json={"model": "L20", "device_hour": "2.5"}, headers=op)
    assert r.status_code == 200, r.text
    after = {f["model"]: f["device_hour"] for f in c.get("/v1/suppliers/xibu-compute/floors", headers=op).json()}
    assert after == {"Ascend-910B": "1.6", "L20": "2.5", "RTX-4090": "1.35"}
    # another supplier's floors are not in this list
    assert {f["supplier"] for f in c.get("/v1/suppliers/huadong-idc/floors", headers=op).json()} == {"huadong-idc"}


def test_floors_are_private_to_their_supplier(http: tuple[TestClient, dict[str, str]]) -> None:
    c, op = http
    sup = account(c, op, "xibu-sales", "supplier", "xibu-compute")
    other = c.get("/v1/suppliers/huadong-idc/floors", headers=sup)
    assert other.status_code == 404 and "7.0" not in other.text
    tenant = account(c, op, "acme")
    assert c.get("/v1/suppliers/xibu-compute/floors", headers=tenant).status_code == 403
    missing = c.get("/v1/suppliers/no-such-idc/floors", headers=op)
    assert missing.status_code == 404 and "no-such-idc" in missing.text

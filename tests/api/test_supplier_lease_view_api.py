"""A supplier reads the leases on its nodes as occupancy only: no tenant's name, words or placement reasoning.

Found in the console (issue 13): the lease page of a supplier showed "ended by <tenant name>" (the
lease's reason and its events' reasons) and the placement reasoning of the order's event, which
names nodes (possibly another supplier's). A supplier sees states and times, never reasons.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


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


def test_a_supplier_sees_no_reason_of_a_tenants_lease(http: tuple[TestClient, dict[str, str]], clock: FakeClock) -> None:
    c, op = http
    a = account(c, op, "secret-tenant-co")
    order = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=a).json()
    lease = c.get(f"/v1/leases/{order['lease_id']}", headers=a).json()
    node = lease["allocations"][0]["node"]
    owner = next(n["supplier"] for n in c.get("/v1/nodes", headers=op).json() if n["name"] == node)
    sup = account(c, op, "node-owner", "supplier", owner)
    clock.advance(hours=1)
    r = c.post(f"/v1/leases/{order['lease_id']}/end", json={"reason": "project secret-x finished"}, headers=a)
    assert r.status_code == 200, r.text
    seen = c.get(f"/v1/leases/{order['lease_id']}", headers=sup)
    assert seen.status_code == 200
    body = seen.text
    for secret in ("secret-tenant-co", "secret-x", "score", "feasible"):
        assert secret not in body, f"{secret!r} shown to the supplier: {body[:600]}"
    doc = seen.json()
    assert [e["to_state"] for e in doc["events"]][-1] == "ended"  # occupancy: states and times stay
    listed = c.get("/v1/leases", headers=sup).text
    for secret in ("secret-tenant-co", "secret-x", "score", "feasible"):
        assert secret not in listed
    # the tenant and the operator still read the reason
    assert "secret-x" in c.get(f"/v1/leases/{order['lease_id']}", headers=a).text
    assert "secret-x" in c.get(f"/v1/leases/{order['lease_id']}", headers=op).text

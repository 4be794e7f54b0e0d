"""``GET /v1/fleet/heatmap`` and ``GET /v1/reports/capacity/now``: per node its devices with fill, state and the
leases holding them (the tenant's name for the operator, none for a supplier); the figures of this instant."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, fleet, heatmap, orders
from suanli.service.platform import Platform


@pytest.fixture
def http(demo: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(demo)) as c:
        yield c


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_heatmap_shows_each_device_its_fill_and_the_tenants_holding_it(
        demo: Platform, operator: Principal, tenant: Principal, http: TestClient) -> None:
    _, op = accounts.create_account(demo, operator, "op2", "operator")
    a = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 25, "memory_mib": 1024, "models": ["L20"]})
    b = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"]})
    fleet.set_node_state(demo, operator, "sz-4090-01", "down", "power")
    r = http.get("/v1/fleet/heatmap", headers=_h(op))
    assert r.status_code == 200, r.text
    nodes = {n["node"]: n for n in r.json()["nodes"]}
    assert len(nodes) == 17 and all(len(n["devices"]) == 8 for n in nodes.values())
    cells = [(n["node"], d) for n in nodes.values() for d in n["devices"] if d["leases"]]
    slice_cell = next(d for _n, d in cells if d["leases"][0]["lease"] == a.order.lease_id)
    assert Decimal(slice_cell["fill"]) == Decimal("0.25") and slice_cell["leases"][0]["tenant_name"] == "acme"
    assert slice_cell["leases"][0]["tenant"] == tenant.account_id and Decimal(slice_cell["leases"][0]["share"]) == Decimal("0.25")
    whole = [d for _n, d in cells if d["leases"][0]["lease"] == b.order.lease_id]
    assert len(whole) == 8 and {Decimal(d["fill"]) for d in whole} == {1}
    assert {d["state"] for d in nodes["sz-4090-01"]["devices"]} == {"down"} and nodes["sz-4090-01"]["state"] == "down"
    # a supplier: its own nodes, the leases on them, no tenant
    _, sup = accounts.create_account(demo, operator, "east", "supplier", supplier="huadong-idc")
    s = http.get("/v1/fleet/heatmap", headers=_h(sup))
    assert s.status_code == 200
    assert {n["supplier"] for n in s.json()["nodes"]} == {"huadong-idc"}
    assert "acme" not in s.text and tenant.account_id not in s.text
    assert a.order.lease_id in s.text  # the occupancy of its own node


def test_capacity_now_splits_the_fleet_and_tenants_are_refused(
        demo: Platform, operator: Principal, tenant: Principal, http: TestClient) -> None:
    _, op = accounts.create_account(demo, operator, "op2", "operator")
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"]})
    r = http.get("/v1/reports/capacity/now", params={"by": "model"}, headers=_h(op))
    assert r.status_code == 200, r.text
    a800 = next(g for g in r.json()["groups"] if g["group"] == "A800")["figures"]
    assert Decimal(a800["allocated"]) == 8 and Decimal(a800["allocation_rate"]) == Decimal("0.5")
    f = r.json()["total"]
    assert Decimal(f["allocated"]) + Decimal(f["fragmented"]) + Decimal(f["unrented"]) == Decimal(f["available"])
    assert Decimal(r.json()["power_kw"]) > 0
    _, t = accounts.create_account(demo, operator, "someone", "tenant")
    for path in ("/v1/reports/capacity/now", "/v1/reports/capacity", "/v1/reports/energy", "/v1/fleet/heatmap"):
        assert http.get(path, headers=_h(t)).status_code == 403


def test_the_heatmap_is_two_queries_whatever_the_fleet(demo: Platform, operator: Principal, tenant: Principal) -> None:
    for k in range(6):
        orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10 + k, "memory_mib": 1024})
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(demo.engine, "before_cursor_execute", note)
    try:
        m = heatmap.heatmap(demo, operator)
    finally:
        event.remove(demo.engine, "before_cursor_execute", note)
    assert sum(len(d.leases) for n in m.nodes for d in n.devices) == 6
    assert len(seen) == 2, seen

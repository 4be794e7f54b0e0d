"""``/metrics``: devices held count what leases hold, nothing else — a device that is not for sale (no list
price, or a price under its supplier's floor) is idle, not allocated."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, fleet, orders
from suanli.service.platform import Platform

FLEET = {
    "sites": [{"name": "s1", "region": "r1", "tier": "cloud", "pue": "1.2", "power_price_kwh": "0.5"}],
    "suppliers": [{"name": "sup"}],
    "nodes": [
        {"name": "priced", "site": "s1", "supplier": "sup", "cpu_cores": 64, "memory_gib": 512, "fabric": "f1",
         "devices": {"model": "L20", "count": 4}},
        {"name": "unpriced", "site": "s1", "supplier": "sup", "cpu_cores": 64, "memory_gib": 512, "fabric": "f2",
         "devices": {"model": "A800", "count": 4}},
    ],
    "prices": [{"model": "L20", "unit": "device_hour", "amount": "3.00"}],
}


def test_devices_not_for_sale_are_not_counted_as_allocated(platform: Platform, operator: Principal) -> None:
    fleet.import_fleet(platform, operator, FLEET)
    tenant, _ = accounts.create_account(platform, operator, "t1", "tenant")
    res = orders.create_order(platform, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert res.order.lease_id is not None
    _, token = accounts.create_account(platform, operator, "op2", "operator")
    with TestClient(create_app(platform)) as c:
        text = c.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    held = {line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("suanli_devices_allocated{")}
    assert held == {'model="A800",site="s1"': 0.0, 'model="L20",site="s1"': 1.0}
    ratio = next(float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith("suanli_allocation_ratio "))
    assert ratio == 1 / 8

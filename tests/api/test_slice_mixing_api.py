"""Over /v1 (SQLite and PostgreSQL): an unenforced slice ordered where the only device with room holds an MPS slice
is refused with a reason naming the rule (docs/slices.md "Mixing mechanisms on one device"), never a 5xx, and
nothing of it holds a device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.slicing import Mechanism
from suanli.drivers.base import Capabilities, Feature
from suanli.service import accounts, fleet
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.fake_driver import DEFAULT, DriverCall, FakeDriver

SLICE = {"form": "slice", "share_pct": 30, "memory_mib": 4096, "models": ["L20"]}
ONE_DEVICE = {"sites": [{"name": "s1", "region": "r1", "tier": "cloud", "pue": "1.20", "power_price_kwh": "0.50"}],
              "suppliers": [{"name": "sup", "display_name": "Supplier"}],
              "nodes": [{"name": "n1", "site": "s1", "supplier": "sup", "cpu_cores": 64, "memory_gib": 512,
                         "nic_gbps": 100, "disk_gb": 1000, "fabric": "s1/n1", "devices": {"model": "L20", "count": 1}}],
              "prices": [{"model": "L20", "unit": "device_hour", "amount": "2.60"}]}


@dataclass
class Backend:
    """Declared slice mechanisms that change between orders (an agent without MPS joined, a restart)."""

    mechanisms: frozenset[Mechanism]

    def __call__(self, call: DriverCall) -> Any:
        if call.method == "capabilities":
            return Capabilities(driver="fake", supported=frozenset(Feature), slice_mechanisms=self.mechanisms)
        return DEFAULT


def test_an_unenforced_slice_beside_an_mps_one_is_refused_over_v1(tmp_path: Path, db_url: str | None) -> None:
    clock = FakeClock()
    backend = Backend(frozenset({Mechanism.MPS}))
    p = Platform(Settings(data_dir=tmp_path / "data", database_url=db_url), clock=clock,
                 driver=FakeDriver(backend, clock=clock))
    try:
        op_token = accounts.bootstrap_operator(p)
        assert op_token is not None
        fleet.import_fleet(p, accounts.authenticate(p, op_token), ONE_DEVICE)
        with TestClient(create_app(p)) as c:
            heads = []
            for name in ("acme", "bolt"):
                r = c.post("/v1/accounts", json={"name": name, "role": "tenant"},
                           headers={"Authorization": f"Bearer {op_token}"})
                assert r.status_code == 201, r.text
                heads.append({"Authorization": f"Bearer {r.json()['token']}"})
            first = c.post("/v1/orders", json=SLICE, headers=heads[0])
            assert first.status_code == 201 and first.json()["enforcement"] == "mps", first.text
            backend.mechanisms = frozenset()
            r = c.post("/v1/orders", json={**SLICE, "allow_unenforced": True}, headers=heads[1])
            assert r.status_code == 409, r.text
            assert "a slice enforced by none may not share a device" in r.text
            leases = c.get("/v1/leases", headers=heads[1])
            assert leases.status_code == 200, leases.text
            (rejected,) = leases.json()["items"]
            assert rejected["state"] == "rejected" and rejected["allocations"] == []
            assert "may not share a device" in rejected["reason"]
    finally:
        p.close()

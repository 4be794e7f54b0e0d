"""Enforced slices over HTTP: the sizes per model, the enforcement on the order and lease, bad input 422."""

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
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        yield c, {"Authorization": f"Bearer {r.json()['token']}"}


def test_profiles_per_model(http: tuple[TestClient, dict[str, str]]) -> None:
    c, h = http
    rows = {r["model"]: r for r in c.get("/v1/slices/profiles", headers=h).json()}
    h200 = rows["H200"]
    assert h200["enforcement"] == "mig" and [s["name"] for s in h200["sizes"]][:2] == ["1g.18gb", "1g.35gb"]
    assert rows["Ascend-910B"]["sizes"][0] == {"name": "vir05_1c_16g", "share_pct": 25, "memory_mib": 16384,
                                              "milli": 250, "starts": []}
    assert rows["DCU-K100-AI"]["enforcement"] == "none"
    one = c.get("/v1/slices/profiles", params={"model": "a100"}, headers=h)
    assert one.status_code == 200 and [r["model"] for r in one.json()] == ["A100-80GB"]
    bad = c.get("/v1/slices/profiles", params={"model": "Z9000"}, headers=h)
    assert bad.status_code == 404 and "known" in bad.text


def test_the_order_and_the_lease_say_how_the_slice_is_enforced(http: tuple[TestClient, dict[str, str]]) -> None:
    c, h = http
    r = c.post("/v1/orders", json={"form": "slice", "share_pct": 20, "memory_mib": 12000, "models": ["A100-80GB"]},
               headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["enforcement"] == "mig:2g.20gb"
    lease = c.get(f"/v1/leases/{r.json()['lease_id']}", headers=h).json()
    assert lease["enforcement"] == "mig:2g.20gb" and lease["allocations"][0]["milli"] == 250
    assert lease["allocations"][0]["memory_mib"] == 20480
    gpu = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=h).json()
    assert gpu["enforcement"] is None
    quote = c.post("/v1/quotes", json={"form": "slice", "share_pct": 20, "memory_mib": 4096, "models": ["L20"]},
                   headers=h)
    assert quote.status_code == 200 and quote.json()["enforcement"] == "mps", quote.text


@pytest.mark.parametrize(("body", "field"), [
    ({"form": "slice", "share_pct": 60, "memory_mib": 1024, "models": ["Ascend-910B"]}, "share_pct"),
    ({"form": "slice", "share_pct": 10, "memory_mib": 1024, "allow_unenforced": "yes"}, "allow_unenforced"),
    ({"form": "gpu", "quantity": 1, "allow_unenforced": True}, "allow_unenforced"),
])
def test_bad_slice_input_is_a_422_naming_the_field(http: tuple[TestClient, dict[str, str]], body: dict[str, object],
                                                   field: str) -> None:
    c, h = http
    r = c.post("/v1/orders", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert field in r.text

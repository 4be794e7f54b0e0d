"""A training job's lease token posts training tokens over HTTP (POST /v1/usage/events and /batch):
its own lease 202, another lease 404, another meter 403, the tenant's full token 403."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, orders
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H = dict[str, str]


def bearer(token: str) -> H:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http(demo: Platform, operator: Principal, clock: FakeClock) -> Iterator[tuple[TestClient, H, H, str, str]]:
    op = bearer(accounts.issue_token(demo, operator, operator.name))
    with TestClient(create_app(demo)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        acme = bearer(r.json()["token"])
        tenant = accounts.authenticate(demo, r.json()["token"])
        leases = [orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]}).order.lease_id
                  for _ in range(2)]
        assert all(leases)
        r = c.post("/v1/tokens", json={"scope": "lease", "lease": leases[0]}, headers=acme)
        assert r.status_code == 201, r.text
        clock.advance(minutes=10)
        yield c, acme, bearer(r.json()["token"]), str(leases[0]), str(leases[1])


def event(own: str, ident: str, clock: FakeClock, **data: Any) -> dict[str, Any]:
    return {"id": ident, "source": f"lease/{own}", "type": "training_tokens", "subject": "acme",
            "time": clock.now().isoformat(), "data": {"quantity": 1000, **data}}


def test_a_lease_token_reports_its_own_training_tokens(http: tuple[TestClient, H, H, str, str],
                                                       clock: FakeClock) -> None:
    c, acme, job, mine, other = http
    r = c.post("/v1/usage/events", json=event(mine, "s1", clock, lease=other), headers=job)
    assert r.status_code == 404 and other in r.json()["error"]["message"]
    r = c.post("/v1/usage/events", json={**event(mine, "s2", clock), "type": "inference_input_tokens"}, headers=job)
    assert r.status_code == 403 and "training_tokens only" in r.json()["error"]["message"]
    r = c.post("/v1/usage/events", json=event(mine, "s3", clock), headers=acme)
    assert r.status_code == 403 and "lease's token" in r.json()["error"]["message"]
    r = c.post("/v1/usage/events", json=event(mine, "s4", clock), headers=job)
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    r = c.post("/v1/usage/batch", json={"events": [event(mine, "s4", clock), event(mine, "s5", clock)]}, headers=job)
    assert r.status_code == 202 and (r.json()["accepted"], r.json()["duplicates"]) == (1, 1), r.text
    usage = c.get(f"/v1/leases/{mine}/usage", headers=job)
    assert usage.status_code == 200, usage.text

"""ORDERS (issue 12): ``POST /v1/leases/{id}/end`` writes its body itself (:mod:`suanli.api.fast_json`, one
worker-thread hop) and ``POST /v1/orders`` answers a slice's enforcement from its grant, not a read: the
wire stays the model's and equals what a later read shows. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.api.schemas.orders import LeaseResponse
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

ALONE_ONLY = ("events", "pricing", "quote", "enforcement", "preempt_at")
"""Fields only a lease shown alone fills (the end answers the model's defaults for them, as the list does)."""


def _model(body: bytes) -> Any:
    return json.loads(LeaseResponse.model_validate_json(body).model_dump_json())


def test_the_end_body_is_the_models_and_the_order_names_its_enforcement(demo: Platform, operator: Principal,
                                                                        clock: FakeClock) -> None:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        op = {"Authorization": f"Bearer {token}"}
        r = c.post("/v1/accounts", json={"name": "end-co", "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        t = {"Authorization": f"Bearer {r.json()['token']}"}
        r = c.post("/v1/oversub", json={"site": "sz-edge-1", "model": "L20", "factor": "2", "discount_pct": "25"},
                   headers=op)
        assert r.status_code in (200, 201), r.text
        orders = [{"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 2},
                  {"form": "slice", "share_pct": 10, "memory_mib": 1024, "hours": 48},
                  {"form": "slice", "share_pct": 30, "memory_mib": 2048, "models": ["L20"],
                   "slice_class": "burstable"},
                  {"form": "cpu", "cpu_cores": 2, "ram_gib": 4, "hours": 5},
                  {"form": "gpu", "quantity": 2}]
        leases = []
        for o in orders:
            r = c.post("/v1/orders", json=o, headers=t)
            assert r.status_code == 201, r.text
            lease_id = r.json()["lease_id"]
            shown = c.get(f"/v1/leases/{lease_id}", headers=t).json()
            assert r.json().get("enforcement") == shown.get("enforcement"), (o, r.json(), shown)
            if o["form"] == "slice":
                assert r.json()["enforcement"]
            leases.append(lease_id)
        clock.advance(120)
        for lease_id in leases:
            r = c.post(f"/v1/leases/{lease_id}/end", json={"reason": "done"}, headers=t)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/json"
            body = r.json()
            assert body == _model(r.content)
            assert body["state"] == "ended" and body["reason"] == "done"
            shown = c.get(f"/v1/leases/{lease_id}", headers=t).json()
            assert {k: v for k, v in body.items() if k not in ALONE_ONLY} == \
                {k: v for k, v in shown.items() if k not in ALONE_ONLY}
        r = c.post(f"/v1/leases/{leases[0]}/end", headers=t)  # ended already: the same refusal as before
        assert r.status_code == 409, r.text
        r = c.post("/v1/leases/ls_nope/end", headers=t)
        assert r.status_code == 404, r.text
        r = c.post(f"/v1/leases/{leases[1]}/end", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401, r.text

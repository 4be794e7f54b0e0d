"""``GET /v1/leases`` writes its body itself (:mod:`suanli.api.fast_json`), without the response
model's validation: its wire must stay exactly the model's.

On a fleet with many kinds of lease (a whole device, slices, a burstable slice, a CPU-only instance,
one ended early, one scheduled, one whose term is over but not stored yet), as the tenant, a supplier
and the operator, on SQLite and PostgreSQL, the body equals the model's own serialisation of the same
page (``Page[LeaseResponse]``: validate, then dump), and every listed lease equals the lease shown alone
(``GET /v1/leases/{id}``, validated by FastAPI) but for the fields only a lease shown alone has.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, TypeAdapter

from suanli.api import fast_json
from suanli.api.app import create_app
from suanli.api.routers.leases import lease_out
from suanli.api.schemas.common import Dec, Page
from suanli.api.schemas.orders import LeaseResponse
from suanli.domain.accounts import Principal
from suanli.service import accounts, leases
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H = dict[str, str]
ALONE_ONLY = ("events", "pricing", "quote", "enforcement", "preempt_at")
"""Fields a lease shown alone fills and a listed lease leaves at the model's default."""


@pytest.fixture
def fleet(demo: Platform, operator: Principal, clock: FakeClock) -> Iterator[tuple[TestClient, dict[str, H]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        op = {"Authorization": f"Bearer {token}"}

        def account(name: str, role: str = "tenant", supplier: str | None = None) -> H:
            r = c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op)
            assert r.status_code == 201, r.text
            return {"Authorization": f"Bearer {r.json()['token']}"}

        t = account("wire-co")
        r = c.post("/v1/oversub", json={"site": "sz-edge-1", "model": "L20", "factor": "2", "discount_pct": "25"},
                   headers=op)
        assert r.status_code in (200, 201), r.text
        orders = [
            {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 2},
            {"form": "slice", "share_pct": 10, "memory_mib": 1024, "hours": 48},
            {"form": "slice", "share_pct": 30, "memory_mib": 2048, "models": ["L20"], "slice_class": "burstable"},
            {"form": "cpu", "cpu_cores": 2, "ram_gib": 4, "hours": 5},
            {"form": "slice", "share_pct": 20, "memory_mib": 1024, "start": "2026-11-30T00:00:00Z", "hours": 3},
            {"form": "gpu", "quantity": 2, "hours": 1},
        ]
        ids = []
        for body in orders:
            r = c.post("/v1/orders", json=body, headers=t)
            assert r.status_code == 201, (body, r.text)
            ids.append(r.json()["lease_id"])
        clock.advance(minutes=30)
        assert c.post(f"/v1/leases/{ids[-1]}/end", json={"reason": "done"}, headers=t).status_code == 200
        clock.advance(hours=3)  # the first gpu's 2 h term is over: ended on read, not stored yet
        node = c.get(f"/v1/leases/{ids[0]}", headers=t).json()["allocations"][0]["node"]
        owner = next(n["supplier"] for n in c.get("/v1/nodes", headers=op).json() if n["name"] == node)
        yield c, {"tenant": t, "operator": op, "supplier": account("wire-owner", "supplier", owner)}


@pytest.mark.parametrize("who", ["tenant", "supplier", "operator"])
def test_the_lease_list_body_is_the_models_own(fleet: tuple[TestClient, dict[str, H]], demo: Platform,
                                               who: str) -> None:
    c, headers = fleet
    r = c.get("/v1/leases", params={"limit": 500}, headers=headers[who])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["items"], "nothing listed: the test would prove nothing"
    if who == "tenant":
        assert {x["state"] for x in body["items"]} >= {"active", "ended", "scheduled"}
        assert {x["form"] for x in body["items"]} >= {"gpu", "slice", "cpu"}
        assert any(a["sold_milli"] for x in body["items"] for a in x["allocations"])  # the burstable slice

    principal = accounts.authenticate(demo, headers[who]["Authorization"].split()[1])
    listed = leases.list_leases(demo, principal, limit=501)
    page = TypeAdapter(Page[LeaseResponse])
    expected = page.dump_json(page.validate_python(
        {"items": [lease_out(x) for x in listed[:500]], "offset": 0, "limit": 500, "next_offset": None}))
    assert body == json.loads(expected)

    for item in body["items"]:  # and the same as each lease shown alone, but for what only that shows
        alone = c.get(f"/v1/leases/{item['id']}", headers=headers[who])
        assert alone.status_code == 200, alone.text
        doc = alone.json()
        assert {k: v for k, v in item.items() if k not in ALONE_ONLY} == \
               {k: v for k, v in doc.items() if k not in ALONE_ONLY}
        assert all(item[k] == LeaseResponse.model_fields[k].default for k in ALONE_ONLY)


class Kind(StrEnum):
    A = "a"


class Sample(BaseModel):
    at: datetime
    when: datetime | None = None
    share: Dec
    kind: str
    flags: list[int] = Field(default=[])
    note: str | None = None


@pytest.mark.parametrize("value", [
    {"at": datetime(2026, 12, 7, tzinfo=UTC), "share": Decimal("0.100"), "kind": Kind.A},
    {"at": datetime(2026, 12, 7, 6, 1, 2, 3, tzinfo=UTC), "share": Decimal("12"), "kind": "x",
     "when": datetime(2026, 12, 7, 6, 1, 2, 500000, tzinfo=UTC)},
    {"at": datetime(2026, 12, 7, 6, 1, 2, 123456, tzinfo=UTC), "share": Decimal("1E+1"), "kind": "y",
     "flags": [1, 2], "note": "naïve «text» \u2028"},
])
def test_dumps_writes_what_pydantic_writes(value: dict[str, Any]) -> None:
    model = TypeAdapter(Sample)
    expected = json.loads(model.dump_json(model.validate_python(value)))
    assert json.loads(fast_json.dumps(fast_json.defaults(Sample) | value)) == expected


def test_defaults_refuses_a_default_factory() -> None:
    class Shared(BaseModel):
        items: list[int] = Field(default_factory=list)

    with pytest.raises(TypeError, match="default factory"):
        fast_json.defaults(Shared)
    assert fast_json.defaults(Sample) == {"when": None, "flags": [], "note": None}


def test_dumps_refuses_what_it_cannot_write_as_the_model_would() -> None:
    with pytest.raises(TypeError):
        fast_json.dumps({"x": object()})

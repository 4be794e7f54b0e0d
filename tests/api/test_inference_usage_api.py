"""``GET /v1/inference/usage`` attacked and used over HTTP: another tenant's usage is 404, a supplier
and an inference key 403, a bad period 422 naming the field; the tenant's rows and totals; reads
write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, plans
from suanli.service.inference_metering import MeteredRequest, meter
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H = dict[str, str]
NOV = datetime(2026, 11, 23, 9, tzinfo=UTC)


def bearer(token: str) -> H:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http(demo: Platform, operator: Principal, clock: FakeClock) -> Iterator[tuple[TestClient, dict[str, H], int]]:
    clock.set(NOV)
    plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                       "rates": [{"meter": "inference_input_tokens", "model": "tiny-gpt", "price": "2"},
                                                 {"meter": "inference_output_tokens", "model": "tiny-gpt",
                                                  "price": "8"}]})
    op = bearer(accounts.issue_token(demo, operator, operator.name))
    with TestClient(create_app(demo)) as c:
        who: dict[str, H] = {"op": op}
        for name, role, extra in (("acme", "tenant", {}), ("other", "tenant", {}),
                                  ("sup", "supplier", {"supplier": "huadong-idc"})):
            r = c.post("/v1/accounts", json={"name": name, "role": role, **extra}, headers=op)
            assert r.status_code == 201, r.text
            who[name] = bearer(r.json()["token"])
        r = c.post("/v1/tokens", json={"scope": "inference", "label": "app"}, headers=who["acme"])
        key = r.json()
        who["key"] = bearer(key["token"])
        acme = c.get("/v1/me", headers=who["acme"]).json()["id"]
        for i in range(4):
            assert meter(demo, MeteredRequest(
                id=f"req_{i}", token_id=key["id"], tenant_id=acme, deployment_id="dep_x", replica_id="rep_x",
                model="tiny-gpt", endpoint="chat", status="ok", stream=True, started_at=NOV,
                ended_at=NOV + timedelta(seconds=1), prompt_tokens=250_000, completion_tokens=125_000))
        yield c, who, key["id"]


def get(c: TestClient, who: H, status: int = 200, **query: str) -> Any:
    r = c.get("/v1/inference/usage", params=query, headers=who)
    assert r.status_code == status, r.text
    return r.json()


def test_another_tenant_sees_nothing_of_it(http: tuple[TestClient, dict[str, H], int]) -> None:
    c, who, _key = http
    r = get(c, who["other"], 404, tenant="acme", period="2026-11")
    assert "acme" in r["error"]["message"]
    assert get(c, who["other"], period="2026-11")["rows"] == []


def test_a_supplier_and_an_inference_key_are_refused(http: tuple[TestClient, dict[str, H], int]) -> None:
    c, who, _key = http
    assert "suppliers never see per-key usage" in get(c, who["sup"], 403, period="2026-11")["error"]["message"]
    assert "inference key only calls models" in get(c, who["key"], 403, period="2026-11")["error"]["message"]


@pytest.mark.parametrize("period", ["2026-13", "11-2026", "2026-1", "x" * 300])
def test_a_bad_period_is_a_422_naming_it(http: tuple[TestClient, dict[str, H], int], period: str) -> None:
    c, who, _key = http
    assert "period" in str(get(c, who["acme"], 422, period=period))


def test_rows_and_totals(http: tuple[TestClient, dict[str, H], int]) -> None:
    c, who, key = http
    # 4 x 250,000 = 1 M prompt x 2 = 2.00; 4 x 125,000 = 0.5 M completion x 8 = 4.00
    mine = get(c, who["acme"], period="2026-11")
    assert mine["rows"] == [{"tenant": "acme", "token_id": key, "prefix": mine["rows"][0]["prefix"], "label": "app",
                             "model": "tiny-gpt", "requests": 4, "prompt_tokens": 1_000_000, "cached_tokens": 0,
                             "completion_tokens": 500_000, "cost": "6.00"}]
    assert mine["totals"] == {"requests": 4, "prompt_tokens": 1_000_000, "cached_tokens": 0,
                              "completion_tokens": 500_000, "cost": "6.00"}
    assert mine["rows"][0]["prefix"].startswith("sl_") and mine["currency"] == "CNY"
    assert get(c, who["op"], period="2026-11")["rows"] == mine["rows"]
    assert get(c, who["op"], period="2026-11", tenant="acme")["totals"] == mine["totals"]
    assert get(c, who["acme"])["period"] == "2026-11"  # this month by default
    draft = c.get("/v1/billing/preview/2026-11", headers=who["acme"])
    assert draft.status_code == 200, draft.text
    lines = [x for x in draft.json()["lines"] if x["meter"].startswith("inference_")]
    assert sorted((x["meter"], x["amount"]) for x in lines) == [("inference_input_tokens", "2.00"),
                                                                 ("inference_output_tokens", "4.00")]

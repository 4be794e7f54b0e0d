"""Inference keys over HTTP (SQLite and PostgreSQL): an inference key calls models and reads /v1/me,
nothing else (403 saying so); its per-key limits are set at creation, shown in lists, and refused
with a 422 naming the field when out of range or given on another scope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.domain.tokens import RATE_LIMIT_MAX, TOKEN_QUOTA_MAX
from suanli.service import accounts
from suanli.service.platform import Platform

H = dict[str, str]


def bearer(token: str) -> H:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, H, H]]:
    op = bearer(accounts.issue_token(demo, operator, operator.name))
    with TestClient(create_app(demo)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        yield c, op, bearer(r.json()["token"])


def make(c: TestClient, who: H, status: int = 201, **body: Any) -> dict[str, Any]:
    r = c.post("/v1/tokens", json=body, headers=who)
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def test_an_inference_key_is_refused_every_other_route(http: tuple[TestClient, H, H]) -> None:
    c, _op, t = http
    key = bearer(make(c, t, scope="inference", label="app")["token"])
    for method, url, body in (("GET", "/v1/leases", None), ("GET", "/v1/orders", None),
                              ("POST", "/v1/orders", {"form": "gpu", "quantity": 1, "models": ["H800"]}),
                              ("GET", "/v1/tokens", None), ("POST", "/v1/tokens", {"scope": "inference"}),
                              ("GET", "/v1/jobs", None), ("GET", "/v1/wallet", None), ("GET", "/v1/usage", None)):
        r = c.request(method, url, json=body, headers=key)
        assert r.status_code == 403, f"{method} {url}: {r.status_code} {r.text[:200]}"
        assert "inference key only calls models" in r.json()["error"]["message"]
    me = c.get("/v1/me", headers=key)
    assert me.status_code == 200 and me.json()["name"] == "acme"


def test_limits_are_set_at_creation_and_listed(http: tuple[TestClient, H, H]) -> None:
    c, _op, t = http
    made = make(c, t, scope="inference", rate_limit_per_minute=600, token_quota=1_000_000, label="app")
    assert (made["scope"], made["rate_limit_per_minute"], made["token_quota"]) == ("inference", 600, 1_000_000)
    plain = make(c, t, scope="inference")
    assert plain["rate_limit_per_minute"] is None and plain["token_quota"] is None
    listed = {x["id"]: x for x in c.get("/v1/tokens", headers=t).json()}
    assert listed[made["id"]]["rate_limit_per_minute"] == 600 and listed[made["id"]]["token_quota"] == 1_000_000
    assert "token" not in listed[made["id"]]


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"scope": "full", "rate_limit_per_minute": 10}, "rate_limit_per_minute", "only for an inference key"),
    ({"scope": "read", "token_quota": 10}, "token_quota", "only for an inference key"),
    ({"scope": "inference", "rate_limit_per_minute": 0}, "rate_limit_per_minute", "1 to 100,000"),
    ({"scope": "inference", "rate_limit_per_minute": -5}, "rate_limit_per_minute", "1 to 100,000"),
    ({"scope": "inference", "rate_limit_per_minute": RATE_LIMIT_MAX + 1}, "rate_limit_per_minute", "1 to 100,000"),
    ({"scope": "inference", "token_quota": 0}, "token_quota", "allowed: 1 to"),
    ({"scope": "inference", "token_quota": TOKEN_QUOTA_MAX + 1}, "token_quota", "allowed: 1 to"),
    ({"scope": "inference", "token_quota": 2**70}, "token_quota", "allowed: 1 to"),
])
def test_bad_limits_are_refused_naming_the_field(http: tuple[TestClient, H, H], body: dict[str, Any], field: str,
                                                 says: str) -> None:
    c, _op, t = http
    before = len(c.get("/v1/tokens", headers=t).json())
    r = c.post("/v1/tokens", json=body, headers=t)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert says in err["message"] and field in r.text
    assert len(c.get("/v1/tokens", headers=t).json()) == before  # nothing half-written


@pytest.mark.parametrize("value", [True, "600", 1.5])
def test_a_limit_that_is_not_a_whole_number_is_refused(http: tuple[TestClient, H, H], value: Any) -> None:
    c, _op, t = http
    r = c.post("/v1/tokens", json={"scope": "inference", "rate_limit_per_minute": value}, headers=t)
    assert r.status_code == 422 and "rate_limit_per_minute" in r.text


def test_a_supplier_gets_no_inference_key_and_the_operator_makes_one_for_a_tenant(
        http: tuple[TestClient, H, H]) -> None:
    c, op, _t = http
    r = c.post("/v1/accounts", json={"name": "s1", "role": "supplier", "supplier": "huadong-idc"}, headers=op)
    assert r.status_code == 201, r.text
    sup = bearer(r.json()["token"])
    r = c.post("/v1/tokens", json={"scope": "inference"}, headers=sup)
    assert r.status_code == 422 and "supplier" in r.json()["error"]["message"]
    r = c.post("/v1/accounts/acme/tokens", json={"scope": "inference", "token_quota": 5000}, headers=op)
    assert r.status_code == 201 and r.json()["token_quota"] == 5000 and r.json()["account"] == "acme"


@pytest.mark.parametrize("endpoint", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
@pytest.mark.parametrize("model", ["tiny\x00gpt", "tiny\x1bgpt", "\u202etpg-ynit"])
def test_a_model_name_with_a_control_character_is_a_400_naming_it(http: tuple[TestClient, H, H], endpoint: str,
                                                                  model: str) -> None:
    """Found by the OpenAPI fuzzing on PostgreSQL: a NUL in ``model`` reached the route's query and
    PostgreSQL refused the string (a 500). Now a 400 in the OpenAI format, naming the character."""
    c, _, tenant = http
    key = make(c, tenant, scope="inference")["token"]
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "prompt": "hi", "input": "hi"}
    r = c.post(endpoint, content=json.dumps(body), headers={**bearer(key), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "model" and "U+" in err["message"], err

"""The order route over HTTP with the placement loop (service.order_loop): a queue held past the
server's bound answers 503 ``busy`` with ``Retry-After`` and writes nothing; an order that can never
fit is 422 at once (never queued, so never a 503); the answer carries the lease's quote."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, order_loop
from suanli.service.platform import Platform

SLICE = {"form": "slice", "share_pct": 10, "memory_mib": 1024}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        yield c, {"Authorization": f"Bearer {r.json()['token']}"}


def counts(c: TestClient, h: dict[str, str]) -> tuple[int, int]:
    return (len(c.get("/v1/orders", headers=h).json()["items"]), len(c.get("/v1/leases", headers=h).json()["items"]))


def test_a_held_queue_answers_503_busy_with_retry_after_and_writes_nothing(http: tuple[TestClient, dict[str, str]],
                                                                           demo: Platform) -> None:
    c, h = http
    first = c.post("/v1/orders", json=SLICE, headers=h)
    assert first.status_code == 201, first.text
    assert first.json()["quote"]["lines"], first.text  # the quote built at the grant
    before = counts(c, h)
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=0)
    loop = order_loop.loop_for(demo)
    loop.pause()
    try:
        r = c.post("/v1/orders", json=SLICE, headers=h | {"Idempotency-Key": "k-busy"})
    finally:
        loop.resume()
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1
    err = r.json()["error"]
    assert err["code"] == "busy" and "nothing was written" in err["message"], err
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=30)
    assert counts(c, h) == before
    again = c.post("/v1/orders", json=SLICE, headers=h | {"Idempotency-Key": "k-busy"})  # retried: placed once
    assert again.status_code == 201, again.text
    replay = c.post("/v1/orders", json=SLICE, headers=h | {"Idempotency-Key": "k-busy"})
    assert replay.status_code == 200 and replay.json()["id"] == again.json()["id"]
    assert replay.json()["quote"] == again.json()["quote"]


def test_an_order_that_can_never_fit_is_422_at_once(http: tuple[TestClient, dict[str, str]], demo: Platform) -> None:
    c, h = http
    assert c.post("/v1/orders", json=SLICE, headers=h).status_code == 201
    before = counts(c, h)
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=0)  # queued, it would be a 503
    loop = order_loop.loop_for(demo)
    loop.pause()
    try:
        r = c.post("/v1/orders", json={"form": "gpu", "quantity": 64}, headers=h)
        unknown = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["Z9000"]}, headers=h)
    finally:
        loop.resume()
    assert r.status_code == 422 and "no node can hold 64 devices" in r.json()["error"]["message"], r.text
    assert unknown.status_code == 422 and "unknown model 'Z9000'" in unknown.json()["error"]["message"]
    demo.settings = dataclasses.replace(demo.settings, order_wait_seconds=30)
    assert counts(c, h) == before


def test_the_openapi_document_lists_the_orders_503(http: tuple[TestClient, dict[str, str]]) -> None:
    c, _h = http
    busy = c.get("/openapi.json").json()["paths"]["/v1/orders"]["post"]["responses"]["503"]
    assert "`busy`" in busy["description"] and busy["headers"]["Retry-After"]["required"] is True
    assert busy["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}

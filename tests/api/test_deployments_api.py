"""``/v1/deployments`` over HTTP: bad input is a 422 naming the field and what is allowed, nothing is
written; an agent-only engine is refused; tokens narrower than full cannot deploy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform

DOC = {"name": "tiny", "model": "tiny-gpt", "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}],
       "min_replicas": 0, "max_replicas": 2}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"name": "no spaces"}, "name", "letters, digits"),
    ({"model": "gpt-5"}, "model", "allowed: ['all-minilm-l6-v2', 'tiny-gpt']"),
    ({"runtime": "vllm"}, "runtime", "allowed: builtin"),
    ({"shapes": []}, "shapes", "non-empty list"),
    ({"shapes": [{"form": "slice", "model": "L20", "share": "0"}]}, "shapes[0].share", "> 0 and <= 1"),
    ({"shapes": [{"form": "gpu", "model": "L20", "quantity": 99}]}, "shapes[0].quantity", "between 1 and 64"),
    ({"shapes": [{"form": "gpu", "model": "L20", "quantity": 9}]}, "shapes[0]", "can never be placed"),
    ({"shapes": [{"form": "slice", "model": "B200", "share": "0.5"}]}, "shapes[0].model", "known"),
    ({"min_replicas": 3, "max_replicas": 2}, "min_replicas", "at most max_replicas"),
    ({"max_replicas": 1000}, "max_replicas", "between 0 and 32"),
    ({"max_output_tokens": 999999}, "max_output_tokens", "between 1 and 255"),
    ({"max_rtt_ms": 5}, "max_rtt_ms", "needs near"),
    ({"near": "atlantis"}, "shapes[0]", "unknown regions"),
])
def test_bad_deployments_name_the_field(http: tuple[TestClient, dict[str, str]], change: dict[str, Any],
                                        field: str, words: str) -> None:
    c, h = http
    r = c.post("/v1/deployments", json={**DOC, **change}, headers=h)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["details"].get("field") == field and words in err["message"], err
    assert c.get("/v1/deployments", headers=h).json() == []  # nothing written


def test_unknown_fields_and_changes(http: tuple[TestClient, dict[str, str]]) -> None:
    c, h = http
    r = c.post("/v1/deployments", json={**DOC, "price": "0"}, headers=h)
    assert r.status_code == 422 and "price" in r.text
    made = c.post("/v1/deployments", json=DOC, headers=h)
    assert made.status_code == 201, made.text
    d = made.json()
    assert d["public"] and d["desired_replicas"] == 0 and d["replicas"] == {} and d["cold_start_ms"] is None
    again = c.post("/v1/deployments", json=DOC, headers=h)
    assert again.status_code == 409 and "already exists" in again.json()["error"]["message"]
    r = c.patch(f"/v1/deployments/{d['id']}", json={"model": "all-minilm-l6-v2"}, headers=h)
    assert r.status_code == 422 and "model" in r.text
    r = c.patch(f"/v1/deployments/{d['id']}", json={}, headers=h)
    assert r.status_code == 422 and "nothing to change" in r.json()["error"]["message"]
    r = c.patch(f"/v1/deployments/{d['id']}", json={"desired_replicas": 5}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "desired_replicas"
    r = c.patch(f"/v1/deployments/{d['id']}", json={"min_replicas": 0, "max_replicas": 4, "target_inflight": 8},
                headers=h)
    assert r.status_code == 200 and (r.json()["max_replicas"], r.json()["target_inflight"]) == (4, 8)
    assert c.get("/v1/deployments/dep_0000", headers=h).status_code == 404
    assert c.get("/v1/deployments/not-an-id", headers=h).status_code == 422
    gone = c.delete(f"/v1/deployments/{d['id']}", headers=h)
    assert gone.status_code == 200 and gone.json()["state"] == "deleted"
    assert c.patch(f"/v1/deployments/{d['id']}", json={"max_replicas": 1}, headers=h).status_code == 409
    assert c.post("/v1/deployments", json=DOC, headers=h).status_code == 201  # the name is free again


def test_narrow_tokens_cannot_deploy(http: tuple[TestClient, dict[str, str]], demo: Platform,
                                     operator: Principal) -> None:
    c, h = http
    tenant, full = accounts.create_account(demo, operator, "acme", "tenant")
    for scope in ("read", "inference"):
        tok = c.post("/v1/tokens", json={"scope": scope}, headers={"Authorization": f"Bearer {full}"})
        assert tok.status_code == 201, tok.text
        th = {"Authorization": f"Bearer {tok.json()['token']}"}
        r = c.post("/v1/deployments", json=DOC, headers=th)
        assert r.status_code == 403, r.text
    assert c.get("/v1/deployments", headers=h).json() == []
    assert tenant.name == "acme"

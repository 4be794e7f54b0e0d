"""Each failure the OpenAPI fuzzing (``test_fuzz_openapi``) found, as the plain request that failed.

Every request is validated the way the fuzzer validates it (no 5xx, a documented status, content
type and body), against the served OpenAPI document, on the fuzzer's world (``fuzz_world``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from fuzz_world import TENANT, World, build
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from suanli.api.app import create_app
from suanli.service import accounts
from suanli.service.platform import Platform

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build(tmp_path_factory.mktemp("fuzz-regressions") / "data")
    yield w
    w.platform.close()


def call(w: World, actor: str, method: str, path: str, *, path_parameters: dict[str, str] | None = None,
         query: dict[str, str] | None = None, body: Any = None) -> Any:
    """Send one request as ``actor`` and validate the answer against the document (raises on a failure)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.app)
    op = schema[path][method]
    kwargs: dict[str, Any] = {"path_parameters": path_parameters or {}, "query": query or {}}
    if body is not None:
        kwargs |= {"body": body, "media_type": "application/json"}
    case = op.Case(**kwargs)
    response = case.call(headers={"Authorization": f"Bearer {w.tokens[actor]}"})
    case.validate_response(response, checks=CHECKS)
    return response


@pytest.mark.parametrize("fmt, media", [("csv", "text/csv"), ("html", "text/html")])
def test_an_invoice_as_csv_or_html_is_a_documented_answer(world: World, fmt: str, media: str) -> None:
    """Found: ``GET /v1/billing/invoices/{id}?format=csv`` answered text/csv, which the document did
    not list (only JSON), and so did ``/v1/invoices/{period}``."""
    r = call(world, "tenant", "GET", "/v1/billing/invoices/{invoice_id}",
             path_parameters={"invoice_id": world.ids["invoice"]}, query={"format": fmt})
    assert r.status_code == 200 and r.headers["content-type"][0].startswith(media)
    r = call(world, "tenant", "GET", "/v1/invoices/{period}", path_parameters={"period": "2026-10"},
             query={"format": fmt})
    assert r.status_code == 200 and r.headers["content-type"][0].startswith(media)


def test_the_voucher_audit_as_csv_is_a_documented_answer(world: World) -> None:
    r = call(world, "operator", "GET", "/v1/vouchers/audit", query={"format": "csv", "tenant": TENANT})
    assert r.status_code == 200 and r.headers["content-type"][0].startswith("text/csv")


def test_a_price_correction_near_year_one_is_refused(world: World) -> None:
    """Found: an instant near year 1 with a positive offset overflowed converting to UTC (500)."""
    r = call(world, "operator", "POST", "/v1/prices/corrections",
             body={"amount": "405", "from": "0001-01-01T00:00:01+00:06", "model": "H800", "reason": "fuzz",
                   "to": "0023-01-01T00:00:00Z"})
    assert r.status_code == 422


def test_an_order_for_1e30_hours_is_refused(world: World) -> None:
    """Found: ``"hours": "1e30"`` overflowed the lease end (500)."""
    r = call(world, "tenant", "POST", "/v1/orders", body={"form": "gpu", "quantity": 1, "models": ["L20"],
                                                          "hours": "1e30"})
    assert r.status_code == 422


@pytest.mark.parametrize("bound", ["since", "until"])
def test_an_audit_filter_at_the_end_of_time_is_refused(world: World, bound: str) -> None:
    """Found: ``until=9999-12-31T23:59:59-01:00`` overflowed converting to UTC before its range was checked (500)."""
    for value in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:06"):
        r = call(world, "operator", "GET", "/v1/audit", query={bound: value})
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert "out of range" in message and "from 2000-01-01 to 2100-01-01" in message


def test_a_token_id_past_the_column_is_refused(platform: Platform) -> None:
    """Found on PostgreSQL: ``POST /v1/tokens/4294967295/revoke`` reached the database with an id past its
    32-bit column (500 integer out of range); SQLite answered 404."""
    token = accounts.bootstrap_operator(platform)
    with TestClient(create_app(platform)) as c:
        for token_id in (2**31, 4294967295, 2**62):
            r = c.post(f"/v1/tokens/{token_id}/revoke", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 422, r.text
        r = c.post(f"/v1/tokens/{2**31 - 1}/revoke", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404, r.text


def test_a_body_that_is_not_utf8_json_is_refused_saying_what_to_send(world: World) -> None:
    """Found: a JSON route given bytes that are not UTF-8 answered FastAPI's "There was an error parsing the
    body", which says neither what was wrong nor what is allowed."""
    with TestClient(world.app) as c:
        for path in ("/v1/orders", f"/v1/leases/{world.ids['lease']}/end"):
            r = c.post(path, content=b"\xec\xc1\xab", headers={"Authorization": f"Bearer {world.tokens['tenant']}",
                                                               "Content-Type": "application/json"})
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["code"] == "invalid" and "JSON" in error["message"] and "UTF-8" in error["message"], error

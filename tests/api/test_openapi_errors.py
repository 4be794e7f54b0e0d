"""The OpenAPI document lists every error response the API returns, with the one error model.

Every operation of the app's own document (so a route added later is covered without a line here)
lists 400, 404, 409, 413, 422 and 429, and 401 and 403 when it needs a token, each with
``ErrorResponse``; FastAPI's own ``HTTPValidationError`` model, which this API never sends, is gone;
and each status a :mod:`suanli.errors` class answers with is documented.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli import errors
from suanli.api.app import create_app
from suanli.api.openapi import AUTH_ONLY, ERROR_REF, ERROR_RESPONSES
from suanli.api.schemas.common import ErrorResponse
from suanli.service.platform import Platform
from suanli.settings import Settings

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
def doc(tmp_path: Path) -> Iterator[dict[str, Any]]:
    p = Platform(Settings(data_dir=tmp_path / "data", driver="none"))
    with TestClient(create_app(p)) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200
        yield r.json()
    p.close()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def test_every_operation_lists_every_error_response_with_the_error_model(doc: dict[str, Any]) -> None:
    ops = dict(operations(doc))
    assert len(ops) > 70
    missing = []
    for label, op in ops.items():
        statuses = set(ERROR_RESPONSES) if "security" in op else set(ERROR_RESPONSES) - AUTH_ONLY
        for status in sorted(statuses):
            response = op["responses"].get(str(status))
            schema = (response or {}).get("content", {}).get("application/json", {}).get("schema")
            if schema != {"$ref": ERROR_REF} or not response.get("description"):
                missing.append(f"{label} {status}: {response}")
        if "429" in op["responses"]:
            assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert not missing, "\n".join(missing)


def test_routes_with_a_token_declare_the_bearer_scheme_and_no_free_authorization_header(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ops = dict(operations(doc))
    assert "security" not in ops["GET /health"]
    for label in ("GET /v1/me", "POST /v1/orders", "GET /v1/leases/{lease_id}", "GET /metrics"):
        assert ops[label]["security"] == [{"bearer": []}], label
    for label, op in ops.items():
        headers = [p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"]
        assert "authorization" not in headers, label


def test_the_error_model_is_what_the_api_sends(doc: dict[str, Any], tmp_path: Path) -> None:
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorResponse"]["required"] == ["error"]
    body = schemas["ErrorBody"]
    assert set(body["required"]) == {"code", "message"} and "details" in body["properties"]
    p = Platform(Settings(data_dir=tmp_path / "other", driver="none"))
    with TestClient(create_app(p)) as c:
        for r in (c.get("/v1/me"), c.get("/v1/leases", headers={"Authorization": "Bearer sl_nope"})):
            assert r.status_code == 401
            ErrorResponse.model_validate(r.json())
    p.close()


def test_each_status_of_the_error_tree_is_documented() -> None:
    """Every error class the API maps to a 4xx answers with a documented status."""
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.SuanliError)]
    client_statuses = {c.status for c in classes if 400 <= c.status < 500}
    assert client_statuses >= {401, 403, 404, 409, 422}
    assert client_statuses <= set(ERROR_RESPONSES)

"""The OpenAPI document: every operation lists the error responses the API returns, with their model.

FastAPI documents a route's success response and, for routes with parameters, a 422 with its own
``HTTPValidationError`` model, which is not what this API sends. :func:`install` post-processes the
generated document once, centrally, so that routes added later are covered without a line of their
own:

- every operation lists 400, 404, 413, 422 and 429 (:data:`ERROR_RESPONSES`), each with the one
  error model :class:`~suanli.api.schemas.common.ErrorResponse` (``{"error": {"code", "message",
  "details"}}``); a 429 also documents its ``Retry-After`` header;
- an operation that needs a token (it reads the ``Authorization`` header) declares the ``bearer``
  security scheme instead of a free-form header parameter and also lists 401 and 403;
- FastAPI's ``HTTPValidationError`` and ``ValidationError`` schemas are dropped once nothing refers
  to them.

A route may still document a status itself (``responses=`` on the route); its description is kept
and the error model is added where it has none. Generated clients can thus handle every refusal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from suanli.api.schemas.common import ErrorResponse

ERROR_REF = "#/components/schemas/ErrorResponse"

ERROR_RESPONSES: dict[int, str] = {
    400: "Bad request (`invalid`): the request cannot be read at all, e.g. a JSON body that is not UTF-8 or a "
         "`Content-Length` that is not a number.",
    401: "Unauthenticated (`unauthenticated`): no bearer token, or an unknown, revoked or expired one.",
    403: "Forbidden (`forbidden`): the token's account or scope may not do this.",
    404: "Not found (`not_found`): no such object, or another tenant's (never told apart).",
    409: "Conflict (`conflict`, `no_capacity`): the object's state does not allow it, a duplicate, or no "
         "capacity can hold the request; nothing was written.",
    413: "Payload too large (`too_large`): the request body is over the server's limit.",
    422: "Invalid (`invalid`): a field is wrong, or the JSON is nested too deep; the message says what was "
         "wrong and what is allowed, `details` names the fields. Nothing was written.",
    429: "Too many requests (`rate_limited`): over the rate limit of the token or of the client address; "
         "retry after `Retry-After` seconds.",
}
"""Every error status an operation documents, with what it means (and its ``code``)."""

AUTH_ONLY = frozenset({401, 403})
"""Statuses only an operation that needs a token can answer."""

BEARER = {"type": "http", "scheme": "bearer",
          "description": "An API token (`Authorization: Bearer <token>`), printed by `suanli serve` or issued "
                         "with `suanli account token`."}

_FASTAPI_MODELS = ("HTTPValidationError", "ValidationError")


def formats(*media: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose 200 also comes in other media types (``format=csv``, ``html``):
    each listed beside the JSON model, as text."""
    return {200: {"content": {m: {"schema": {"type": "string"}} for m in media}}}


def error_statuses(operation: dict[str, Any]) -> list[int]:
    """The error statuses ``operation`` documents once installed: all of :data:`ERROR_RESPONSES`
    for an operation that needs a token, all but 401 and 403 for a public one."""
    needs_token = "security" in operation
    return [s for s in ERROR_RESPONSES if needs_token or s not in AUTH_ONLY]


def _is_auth_header(param: dict[str, Any]) -> bool:
    return param.get("in") == "header" and str(param.get("name", "")).lower() == "authorization"


def _error_response(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": (existing or {}).get("description") or ERROR_RESPONSES[status],
                           "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    if status == 429:
        out["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again.", "required": True,
                                          "schema": {"type": "integer", "minimum": 0}}}
    return out


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses and the bearer scheme to every operation of ``doc`` (in place)."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    model = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(model.pop("$defs", {}))
    schemas["ErrorResponse"] = model
    components.setdefault("securitySchemes", {})["bearer"] = BEARER
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options") or not isinstance(op, dict):
                continue
            params = op.get("parameters", [])
            if any(_is_auth_header(p) for p in params):
                op["parameters"] = [p for p in params if not _is_auth_header(p)]
                if not op["parameters"]:
                    del op["parameters"]
                op.setdefault("security", [{"bearer": []}])
            responses = op.setdefault("responses", {})
            for status in error_statuses(op):
                responses[str(status)] = _error_response(status, responses.get(str(status)))
    for name in _FASTAPI_MODELS:  # HTTPValidationError first: it refers to ValidationError
        if name in schemas and f'"#/components/schemas/{name}"' not in json.dumps(doc):
            del schemas[name]
    return doc


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with every error response listed (built once)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

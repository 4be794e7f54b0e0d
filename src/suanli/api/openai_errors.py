"""Errors on the OpenAI-compatible gateway routes, in the OpenAI format.

Every answer that is not a success on :data:`PATHS` is ``{"error": {"message", "type", "param",
"code"}}`` (what the official ``openai`` client reads), with the status of the platform's error and
the message shortened like every other error (:func:`suanli.api.middleware.clip`). The platform's
stable codes map to OpenAI's types and codes (:func:`openai_error`); an error may name its own OpenAI
code in ``details["openai_code"]`` and its parameter in ``details["param"]`` (or ``details["field"]``);
the platform's other details follow in ``error.details`` (an additive field the openai client ignores).
The rest of the API keeps its own format (docs/api.md).
"""

from __future__ import annotations

from typing import Any

PATHS = frozenset({"/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings"})
"""The OpenAI-compatible routes (docs/inference.md, "Gateway")."""

_BY_CODE: dict[str, tuple[str, str]] = {
    # platform code -> (OpenAI type, OpenAI code)
    "invalid": ("invalid_request_error", "invalid_value"),
    "too_large": ("invalid_request_error", "request_too_large"),
    "not_found": ("invalid_request_error", "not_found"),
    "method_not_allowed": ("invalid_request_error", "method_not_allowed"),
    "unauthenticated": ("invalid_request_error", "invalid_api_key"),
    "forbidden": ("permission_error", "permission_denied"),
    "rate_limited": ("requests", "rate_limit_exceeded"),
    "rate_limit_exceeded": ("requests", "rate_limit_exceeded"),
    "insufficient_quota": ("insufficient_quota", "insufficient_quota"),
    "quota_exceeded": ("insufficient_quota", "insufficient_quota"),
    "busy": ("server_error", "service_unavailable"),
    "service_unavailable": ("server_error", "service_unavailable"),
    "engine_error": ("server_error", "upstream_error"),
    "upstream_error": ("server_error", "upstream_error"),
    "internal": ("server_error", "internal_error"),
}
_BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"), 401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"), 404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"), 413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "invalid_value"), 429: ("requests", "rate_limit_exceeded"),
    502: ("server_error", "upstream_error"), 503: ("server_error", "service_unavailable"),
}


def applies(path: str) -> bool:
    """Whether errors on ``path`` are answered in the OpenAI format."""
    return path in PATHS


def status_of(status: int, code: str) -> int:
    """OpenAI clients expect 400 for a request they can fix: the platform's 422 ``invalid`` is 400 here."""
    return 400 if status == 422 else status


def openai_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAI error body for a platform error (already :func:`~suanli.api.middleware.clip`-ped by the caller)."""
    d = details or {}
    kind, oa_code = _BY_CODE.get(code) or _BY_STATUS.get(status) or (
        "server_error" if status >= 500 else "invalid_request_error", code)
    if isinstance(d.get("openai_code"), str):
        oa_code = d["openai_code"]
    if isinstance(d.get("openai_type"), str):
        kind = d["openai_type"]
    param = d.get("param", d.get("field"))
    out: dict[str, Any] = {"message": message, "type": kind, "param": param if isinstance(param, str) else None,
                           "code": oa_code}
    rest = {k: v for k, v in d.items() if k not in ("openai_code", "openai_type", "param")}
    if rest:
        out["details"] = rest  # the platform's details (additive: OpenAI clients ignore the field)
    return {"error": out}

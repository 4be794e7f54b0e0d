"""What the client raises.

::

    ClientError                          anything the client raises on purpose
    ├── ServerUnreachableError           no HTTP answer: connection refused, DNS, timeout
    └── ApiError (also a SuanliError)    the server answered 4xx/5xx; carries status, code, message, details
        ├── ApiValidationError           422 invalid          (also a suanli.errors.ValidationError)
        ├── ApiNotFoundError             404 not_found        (also a NotFoundError)
        ├── ApiConflictError             409 conflict         (also a ConflictError)
        ├── ApiCapacityError             409 no_capacity      (also a CapacityError)
        ├── ApiAuthenticationError       401 unauthenticated  (also an AuthenticationError)
        ├── ApiPermissionDeniedError     403 forbidden        (also a PermissionDeniedError)
        └── ApiEngineError               502 engine_error     (also an EngineError)

Each :class:`ApiError` subclass also inherits the :mod:`suanli.errors` class of its code, so a
script can write ``except NotFoundError`` whether it talks to a platform in-process or over HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx

from suanli import errors


class ClientError(Exception):
    """Base of everything :class:`~suanli.client.SuanliClient` raises on purpose."""


class ServerUnreachableError(ClientError):
    """The server gave no HTTP answer (refused, unknown host, timed out)."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"cannot reach suanli server at {server}: {reason}")
        self.server = server
        self.reason = reason
        self.message = str(self)


class ApiError(ClientError, errors.SuanliError):
    """The server answered with an error: HTTP ``status``, stable ``code``, human ``message``, ``details``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        errors.SuanliError.__init__(self, message, **(details or {}))
        self.status = status  # type: ignore[misc]  # the real HTTP status, not only the class default
        self.code = code  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class ApiValidationError(ApiError, errors.ValidationError):
    pass


class ApiNotFoundError(ApiError, errors.NotFoundError):
    pass


class ApiConflictError(ApiError, errors.ConflictError):
    pass


class ApiCapacityError(ApiError, errors.CapacityError):
    pass


class ApiAuthenticationError(ApiError, errors.AuthenticationError):
    pass


class ApiPermissionDeniedError(ApiError, errors.PermissionDeniedError):
    pass


class ApiEngineError(ApiError, errors.EngineError):
    pass


BY_CODE: dict[str, type[ApiError]] = {
    cls.code: cls
    for cls in (ApiValidationError, ApiNotFoundError, ApiConflictError, ApiCapacityError, ApiAuthenticationError,
                ApiPermissionDeniedError, ApiEngineError)
}
"""Server error code -> the client class raised for it; unknown codes raise plain :class:`ApiError`."""


def api_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> ApiError:
    """The :class:`ApiError` subclass for ``code`` (plain ``ApiError`` when the code is unknown)."""
    return BY_CODE.get(code, ApiError)(status, code, message, details)


def error_of(r: httpx.Response) -> ApiError:
    """The :class:`ApiError` of a 4xx/5xx answer: the server's ``{"error": {code, message, details}}``,
    else (a proxy's page, FastAPI's ``detail``) ``http_<status>`` with what the answer said."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        e = body["error"]
        return api_error(r.status_code, str(e.get("code", "error")), str(e.get("message", "")),
                         e.get("details") if isinstance(e.get("details"), dict) else {})
    detail = body.get("detail") if isinstance(body, dict) else None
    text = str(detail) if detail else (r.text.strip()[:500] or r.reason_phrase)
    return api_error(r.status_code, f"http_{r.status_code}", f"HTTP {r.status_code} from {r.request.url}: {text}")

"""One exception tree for the whole platform.

::

    SuanliError                      500 internal
    ├── ValidationError              422 invalid        bad input: says what was wrong and what is allowed
    ├── NotFoundError                404 not_found      (also raised for another tenant's objects)
    ├── ConflictError                409 conflict       state does not allow it, duplicate key, double grant
    │   └── FencedError              409 fenced         background work of a replica that no longer leads
    ├── CapacityError                409 no_capacity    nothing can hold the request
    ├── AuthenticationError          401 unauthenticated
    ├── PermissionDeniedError        403 forbidden
    ├── EngineError                  502 engine_error   an execution engine refused or is unreachable
    ├── BusyError                    503 busy           the order queue did not reach it in time: retry
    │                                                   after ``details['retry_after_s']`` (nothing written)
    └── TooManyRequestsError         429 rate_limit_exceeded   past a per-key requests/minute limit; retry after
        │                                                      ``details['retry_after_s']``
        └── QuotaExceededError       429 insufficient_quota    an inference key's monthly token quota would be
                                                               passed; ``details``: quota, used, left, resets_at

Every class carries an HTTP status and a stable machine-readable ``code``; the API maps them,
the CLI prints the message and exits non-zero. ``details`` holds structured context
(field names, allowed values) for machines.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SuanliError(Exception):
    """Base of every error the platform raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationError(SuanliError):
    status = 422
    code = "invalid"


class NotFoundError(SuanliError):
    status = 404
    code = "not_found"


class ConflictError(SuanliError):
    status = 409
    code = "conflict"


class FencedError(ConflictError):
    """A write of the background work under a leadership epoch that is no longer current (another
    replica took over): refused, and its transaction rolled back (``suanli.service.fencing``)."""

    code = "fenced"


class CapacityError(SuanliError):
    status = 409
    code = "no_capacity"


class AuthenticationError(SuanliError):
    status = 401
    code = "unauthenticated"


class PermissionDeniedError(SuanliError):
    status = 403
    code = "forbidden"


class EngineError(SuanliError):
    status = 502
    code = "engine_error"


class BusyError(SuanliError):
    """The server could not take the request within its stated bound and wrote nothing; the API
    answers 503 with ``Retry-After`` (``details['retry_after_s']``)."""

    status = 503
    code = "busy"


class TooManyRequestsError(SuanliError):
    """An inference key used up its own requests per minute: 429 ``rate_limit_exceeded`` with
    ``Retry-After`` (``details['retry_after_s']``, whole seconds, at least 1). Nothing was done."""

    status = 429
    code = "rate_limit_exceeded"


class QuotaExceededError(TooManyRequestsError):
    """An inference key's tokens this UTC month plus the request's would pass its monthly quota:
    429 ``insufficient_quota`` (OpenAI's code); ``details``: ``quota``, ``used``, ``left``,
    ``needed``, ``resets_at`` (the next month's first instant, UTC) and ``retry_after_s``."""

    code = "insufficient_quota"

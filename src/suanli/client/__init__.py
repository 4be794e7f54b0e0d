"""suanli.client: a typed HTTP client for the suanli API (see :mod:`suanli.client.http`).

::

    from suanli.client import SuanliClient

    with SuanliClient("http://127.0.0.1:8000", token="sk_...") as api:
        print([(o.model, o.site, o.free_devices) for o in api.offers()])
"""

from suanli.client.errors import (
                                  ApiAuthenticationError,
                                  ApiCapacityError,
                                  ApiConflictError,
                                  ApiEngineError,
                                  ApiError,
                                  ApiNotFoundError,
                                  ApiPermissionDeniedError,
                                  ApiValidationError,
                                  ClientError,
                                  ServerUnreachableError,
)
from suanli.client.http import DEFAULT_SERVER, DEFAULT_TIMEOUT, SuanliClient

__all__ = [
    "DEFAULT_SERVER", "DEFAULT_TIMEOUT", "ApiAuthenticationError", "ApiCapacityError", "ApiConflictError",
    "ApiEngineError", "ApiError", "ApiNotFoundError", "ApiPermissionDeniedError", "ApiValidationError",
    "ClientError", "ServerUnreachableError", "SuanliClient",
]

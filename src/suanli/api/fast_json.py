"""JSON bodies of hot read routes, written without validating what the server itself just built.

FastAPI checks a route's return value against its ``response_model`` and then serialises it; for a
page of 50 leases that costs ~0.2 ms of CPU (plus a worker-thread hop for a sync route) for data
the service built from its own domain types. A route that returns :func:`response` skips both and
keeps the model for its documentation (``response_model=``). The wire must stay the model's:
:func:`dumps` writes what pydantic writes for these types (aware datetimes as ``…Z`` in UTC,
decimals as the exact strings of :func:`suanli.api.schemas.common.dec_str`), and a route fills the
fields it leaves out with :func:`defaults`; ``tests/api/test_fast_json_wire.py`` (the lease list) and
``tests/api/test_end_route_wire.py`` (``POST /v1/leases/{id}/end``) compare each such route's body with
the model's own serialisation of the same data.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel

from suanli.api.schemas.common import dec_str


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable here")


def dumps(doc: Any) -> bytes:
    """``doc`` as JSON bytes, as pydantic would write it for the models of :mod:`suanli.api.schemas`."""
    return orjson.dumps(doc, default=_default, option=orjson.OPT_UTC_Z)


def response(doc: Any, status_code: int = 200) -> Response:
    return Response(dumps(doc), status_code=status_code, media_type="application/json")


def defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The values a model gives the fields a body may leave out (``None``, ``[]``, …), to merge under
    a route's own dict so that the body has every field the model documents."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.is_required():
            continue
        if field.default_factory is not None:
            raise TypeError(f"{model.__name__}.{name}: a default factory cannot be shared between bodies")
        out[field.alias or name] = field.default
    return out

"""Shared wire types: decimals as strings, errors, pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

T = TypeVar("T")


def dec_str(d: Decimal) -> str:
    """Fixed-point string without exponent or trailing zeros beyond the value (exact)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


Dec = Annotated[Decimal, PlainSerializer(dec_str, return_type=str, when_used="json")]
"""An exact decimal, serialised as a string."""


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


class Page(BaseModel, Generic[T]):
    items: list[T]
    offset: int
    limit: int
    next_offset: int | None = None

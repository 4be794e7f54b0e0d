"""Shared wire types: decimals as strings, errors, pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, model_validator

T = TypeVar("T")


def dec_str(d: Decimal) -> str:
    """Fixed-point string without exponent or trailing zeros beyond the value (exact)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


Dec = Annotated[Decimal, PlainSerializer(dec_str, return_type=str, when_used="json")]
"""An exact decimal, serialised as a string."""


Money = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]
"""An amount of money, serialised as a string with its places kept: the document that holds it
puts it in its currency's minor unit first (:func:`suanli.domain.money.minor`), so ``48.00``,
never ``48`` or ``48.000000000000``."""


def _not_a_float(v: object) -> object:
    if isinstance(v, float | bool):
        raise ValueError(f"give a decimal string such as \"0.01\" or a whole number, not {v!r} (a float is never "
                         "exact)")
    return v


Exact = Annotated[Decimal, BeforeValidator(_not_a_float), PlainSerializer(dec_str, return_type=str, when_used="json")]
"""An entered decimal (a price, a quantity): a decimal string or an integer, never a JSON float."""

PRICE_WORDS = ("price", "discount", "rate", "commission", "floor", "percent", "amount", "cost", "fee")
"""Field names that set money; a request that does not have such a field says so when one is sent."""


class Wire(BaseModel):
    """A request body: unknown fields are refused (422), naming the fields allowed. A money field
    (:data:`PRICE_WORDS`) sent where the request has none is refused with the rule that only the
    operator sets prices, discounts and rates."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def _wire_names(cls) -> list[str]:
        """The keys a body may have: each field's alias (``from``), and its name where no alias is set
        or the model also takes names."""
        by_name = bool(cls.model_config.get("populate_by_name") or cls.model_config.get("validate_by_name"))
        out: list[str] = []
        for name, f in cls.model_fields.items():
            alias = f.validation_alias if isinstance(f.validation_alias, str) else f.alias
            out += [alias] if alias else []
            out += [name] if not alias or by_name else []
        return out

    @model_validator(mode="before")
    @classmethod
    def _only_known_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = cls._wire_names()
        extra = sorted(str(k) for k in data if k not in known)
        if not extra:
            return data
        allowed = ", ".join(known) or "none"
        money = [k for k in extra if any(w in k.lower() for w in PRICE_WORDS)]
        if money:
            raise ValueError(f"{', '.join(money)}: this request sets no price, discount or rate (tenants cannot set "
                             f"prices; the operator sets them on its own routes); allowed fields: {allowed}")
        raise ValueError(f"unknown field(s) {', '.join(extra)}; allowed fields: {allowed}")


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

"""Shared wire types: decimals as strings, errors, pages, and the input rules every request field follows."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from suanli.domain.clock import EARLIEST, LATEST
from suanli.domain.jobs import MAX_TIME_LIMIT_S
from suanli.domain.money import MAX_PLACES, check_amount
from suanli.domain.text import NAME_MAX, NAME_RULE, control_char, is_name
from suanli.errors import ValidationError

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


_DECIMAL_RULE = 'a decimal string such as "0.01" or a whole number'


def _not_a_float(v: object) -> object:
    """An entered decimal as the wire may carry it: a decimal string or a JSON integer, parsed exactly.
    Refused with what is allowed: a float (never exact), ``true``/``false``, NaN, Infinity, a string
    that is not a number or is longer than 100 characters."""
    if isinstance(v, bool):
        raise PydanticCustomError("decimal_type", "give " + _DECIMAL_RULE + ", not {value} (a boolean is not a number)",
                                  {"value": str(v).lower()})
    if isinstance(v, float):
        raise PydanticCustomError("decimal_type", "give " + _DECIMAL_RULE + ", not {value} (a float is never exact: "
                                  "money and quantities are decimal strings, not a float)", {"value": repr(v)})
    if isinstance(v, str):
        if len(v) > 100:
            raise PydanticCustomError("decimal_parsing", "a number of {length} characters; give " + _DECIMAL_RULE
                                      + " of at most 100 characters", {"length": len(v)})
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise PydanticCustomError("decimal_parsing", "{value} is not a number; give " + _DECIMAL_RULE,
                                      {"value": repr(v[:40])}) from None
        return _finite(d)
    return v


def _finite(v: Decimal) -> Decimal:
    if not v.is_finite():
        raise PydanticCustomError("decimal_finite", "give " + _DECIMAL_RULE + ", not {value} (NaN and Infinity are "
                                  "not numbers)", {"value": str(v)})
    return v


Exact = Annotated[Decimal, BeforeValidator(_not_a_float), AfterValidator(_finite),
                  PlainSerializer(dec_str, return_type=str, when_used="json")]
"""An entered decimal (a price, a quantity): a decimal string or an integer, never a JSON float,
NaN or Infinity."""

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
            raise PydanticCustomError("extra_forbidden", "{fields}: this request sets no price, discount or rate "
                                      "(tenants cannot set prices; the operator sets them on its own routes); allowed "
                                      "fields: {allowed}", {"fields": _few(money), "allowed": allowed})
        raise PydanticCustomError("extra_forbidden", "unknown field(s) {fields}; allowed fields: {allowed}",
                                  {"fields": _few(extra), "allowed": allowed})


def _few(names: list[str]) -> str:
    """Field names as a message shows them: at most 5, each cut to 40 characters (never an echo of the input)."""
    shown = [repr(n[:40]) if control_char(n) else n[:40] + ("…" if len(n) > 40 else "") for n in names[:5]]
    return ", ".join(shown) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


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


# ---------------------------------------------------------------------------------------------------
# Input rules (docs/api.md "Input rules"): every request field uses one of these types, so one rule
# holds on every route and a refusal is a 422 that says what is allowed.

TEXT_MAX = 500
"""The longest free text (``Text``: a reason, a description, a note)."""
LABEL_MAX = 120
"""The longest display label (``Label``: a job's or a package product's name)."""
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")



def _plain(v: object, what: str, longest: int, *, lines: bool) -> str:
    if not isinstance(v, str):
        raise PydanticCustomError("string_type", "give a string (" + what + ")")
    if len(v) > longest:
        raise PydanticCustomError("string_too_long", "too long ({length} characters); allowed: " + what,
                                  {"length": len(v)})
    bad = control_char(v, lines=lines)
    if bad:
        raise PydanticCustomError("string_control", "contains the control character {char}; allowed: " + what,
                                  {"char": bad})
    return v


_NAME_RULE = NAME_RULE


def _name(v: object) -> str:
    s = _plain(v, _NAME_RULE, NAME_MAX, lines=False)
    if not is_name(s):
        raise PydanticCustomError("name_pattern", "{value} is not a name; allowed: " + _NAME_RULE,
                                  {"value": repr(s[:40])})
    return s


_TEXT_RULE = (f"at most {TEXT_MAX} characters of text without control characters (no NUL, ESC, or bidi "
              "overrides such as U+202E; newline and tab are allowed)")
_LABEL_RULE = f"1 to {LABEL_MAX} characters of text without control characters, not only spaces"


def _text(v: object) -> str:
    return _plain(v, _TEXT_RULE, TEXT_MAX, lines=True)


REFERENCE_MAX = 64
_REFERENCE_RULE = f"at most {REFERENCE_MAX} characters without control characters"


def _reference(v: object) -> str:
    return _plain(v, _REFERENCE_RULE, REFERENCE_MAX, lines=False)


def _label(v: object) -> str:
    s = _plain(v, _LABEL_RULE, LABEL_MAX, lines=False)
    if not s.strip():
        raise PydanticCustomError("label_empty", "is empty; allowed: " + _LABEL_RULE)
    return s


Name = Annotated[str, BeforeValidator(_name), Field(json_schema_extra={"pattern": _NAME_RE.pattern,
                                                                       "minLength": 1, "maxLength": NAME_MAX})]
"""An identifier (an account, a tenant, a supplier, a node, a site, a model, a meter, a plan id ...):
1 to 64 characters of ASCII letters, digits, ``-``, ``_`` and ``.``."""

Text = Annotated[str, BeforeValidator(_text), Field(json_schema_extra={"maxLength": TEXT_MAX})]
"""Free text (a reason, a description, a note, a reference): at most 500 characters, no control
characters (NUL, ESC ... ; newline and tab allowed) and no bidi overrides (U+202E and kin)."""

Reference = Annotated[str, BeforeValidator(_reference), Field(json_schema_extra={"maxLength": REFERENCE_MAX})]
"""A short reference (a payment's bank reference): at most 64 characters, no control characters."""

Label = Annotated[str, BeforeValidator(_label), Field(json_schema_extra={"minLength": 1, "maxLength": LABEL_MAX})]
"""A short display name (a job's name, a package product's name): 1 to 120 characters, no control
characters, not only spaces."""

INSTANT_MIN = EARLIEST
INSTANT_MAX = LATEST
"""Every instant on the wire lies in [2000-01-01, 2100-01-01) UTC; a service refuses instants that make
no sense for it (a start in the past, a reservation too far ahead)."""
_INSTANT_RULE = ("an ISO-8601 date-time with a time zone (e.g. \"2026-05-01T09:00:00+08:00\" or "
                 "\"...Z\") from 2000-01-01 to 2100-01-01")


def _instant_in(v: object) -> datetime:
    if isinstance(v, datetime):
        d = v
    elif not isinstance(v, str):
        raise PydanticCustomError("instant_type", "give a string; allowed: " + _INSTANT_RULE)
    else:
        try:
            if len(v) > 64:
                raise ValueError(v)
            d = datetime.fromisoformat(v.strip())
        except ValueError:
            raise PydanticCustomError("instant_parsing", "{value} is not a date-time; allowed: " + _INSTANT_RULE,
                                      {"value": repr(v[:40])}) from None
    if d.tzinfo is None or d.utcoffset() is None:
        raise PydanticCustomError("instant_tz", "has no time zone; allowed: " + _INSTANT_RULE)
    return d


def _instant_out(v: datetime) -> datetime:
    if v.tzinfo is None or v.utcoffset() is None:
        raise PydanticCustomError("instant_tz", "has no time zone; allowed: " + _INSTANT_RULE)
    if not INSTANT_MIN <= v < INSTANT_MAX:
        raise PydanticCustomError("instant_range", "{value} is out of range; allowed: " + _INSTANT_RULE,
                                  {"value": v.isoformat()})
    return v


Instant = Annotated[datetime, BeforeValidator(_instant_in), AfterValidator(_instant_out)]
"""An instant: an ISO-8601 string with a time zone, in [2000-01-01, 2100-01-01) UTC. A number (a Unix
time) or an instant without a zone is refused: one rule on every route."""


def _strict_int(v: object) -> object:
    if isinstance(v, bool) or not isinstance(v, int):
        raise PydanticCustomError("int_strict", "give a whole number (a JSON integer such as 3), not {value}",
                                  {"value": repr(v)[:40]})
    return v


def _int_range(lo: int, hi: int, what: str) -> AfterValidator:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise PydanticCustomError("int_range", "{value} is out of range; allowed: " + what +
                                      f", a whole number from {lo} to {hi}", {"value": str(v)[:40]})
        return v

    return AfterValidator(check)


def _dec_range(lo: Decimal, hi: Decimal, places: int, what: str, *, open_low: bool = False) -> AfterValidator:
    low = f"above {lo}" if open_low else f"from {lo}"
    rule = f"{what}, a decimal string or integer {low} to {hi} with at most {places} decimal places"

    def check(v: Decimal) -> Decimal:
        if v < lo or (open_low and v == lo) or v > hi or v != v.quantize(Decimal(1).scaleb(-places)):
            raise PydanticCustomError("decimal_range", "{value} is not allowed; allowed: " + rule,
                                      {"value": str(v)[:40]})
        return v

    return AfterValidator(check)


def _amount(allow_zero: bool, places: int) -> AfterValidator:
    def check(v: Decimal, info: ValidationInfo) -> Decimal:
        try:
            return check_amount(v, info.field_name or "amount", allow_zero=allow_zero, places=places)
        except ValidationError as e:
            raise PydanticCustomError("amount", e.message) from None

    return AfterValidator(check)


MAX_COUNT = 10_000
"""The most of anything counted in one request (servers, GPUs, packages, list items)."""
MAX_LIST = 1_000
"""The most items of a list field in a request (models, sites, vouchers ...)."""
MAX_OFFSET = 1_000_000_000
"""The largest page offset."""
MAX_PAGE = 500
"""The largest page (``limit``)."""
MAX_HOURS = Decimal(87_600)
"""Ten years: the longest term, extension or wallet threshold in hours."""
MAX_SECONDS = MAX_TIME_LIMIT_S
"""The longest duration in seconds (a job's time limit)."""
MAX_DEVICES = 1024
MAX_MIB = 16 * 1024 * 1024
MAX_GIB = 16 * 1024
MAX_DAYS = 36_600

_Int = Annotated[int, BeforeValidator(_strict_int)]
Count = Annotated[_Int, _int_range(1, MAX_COUNT, "a count"), Field(json_schema_extra={"minimum": 1, "maximum": MAX_COUNT})]
"""A number of things (servers, GPUs, packages): a JSON integer from 1 to 10,000 (``true`` and ``1.0`` refused)."""
Devices = Annotated[_Int, _int_range(0, MAX_DEVICES, "devices"),
                    Field(json_schema_extra={"minimum": 0, "maximum": MAX_DEVICES})]
"""A number of devices: 0 to 1,024."""
Seconds = Annotated[_Int, _int_range(1, MAX_SECONDS, "seconds"),
                    Field(json_schema_extra={"minimum": 1, "maximum": MAX_SECONDS})]
"""A duration in seconds: 1 to 31,622,400 (366 days)."""
Days = Annotated[_Int, _int_range(1, MAX_DAYS, "days"), Field(json_schema_extra={"minimum": 1, "maximum": MAX_DAYS})]
"""A number of days: 1 to 36,600."""
Percent = Annotated[_Int, _int_range(1, 100, "a percentage"), Field(json_schema_extra={"minimum": 1, "maximum": 100})]
"""A whole percentage: 1 to 100."""
MiB = Annotated[_Int, _int_range(1, MAX_MIB, "MiB"), Field(json_schema_extra={"minimum": 1, "maximum": MAX_MIB})]
"""Memory in MiB: 1 to 16 TiB."""
GiB = Annotated[_Int, _int_range(1, MAX_GIB, "GiB"), Field(json_schema_extra={"minimum": 1, "maximum": MAX_GIB})]
"""Memory in GiB: 1 to 16,384."""

_Dec = Annotated[Decimal, BeforeValidator(_not_a_float), AfterValidator(_finite),
                 PlainSerializer(dec_str, return_type=str, when_used="json")]
Hours = Annotated[_Dec, _dec_range(Decimal(0), MAX_HOURS, 6, "hours", open_low=True)]
"""A duration in hours: above 0 up to 87,600 (ten years), at most 6 decimal places."""
HoursOrZero = Annotated[_Dec, _dec_range(Decimal(0), MAX_HOURS, 6, "hours")]
"""Like :data:`Hours`, 0 allowed."""
PFlops = Annotated[_Dec, _dec_range(Decimal(0), Decimal(100_000), 6, "P (PFLOPS)", open_low=True)]
"""An amount of compute in P: above 0 up to 100,000."""
MaxRttMs = Annotated[_Dec, _dec_range(Decimal(0), Decimal(10_000), 3, "ms", open_low=True)]
"""A round-trip time bound in milliseconds: above 0 up to 10,000, at most 3 decimal places."""
Fraction = Annotated[_Dec, _dec_range(Decimal(0), Decimal(1), 6, "a fraction", open_low=True)]
"""A fraction above 0 up to 1 (0.3 = 30 %)."""

Amount = Annotated[Decimal, BeforeValidator(_not_a_float), _amount(False, MAX_PLACES),
                   PlainSerializer(dec_str, return_type=str, when_used="json")]
"""Entered money (a price, a rate, a value): the one range rule, :func:`suanli.domain.money.check_amount`:
a decimal string or integer (never a JSON float or ``true``) above 0, at most 10^9, 6 decimal places."""
AmountOrZero = Annotated[Decimal, BeforeValidator(_not_a_float), _amount(True, MAX_PLACES),
                         PlainSerializer(dec_str, return_type=str, when_used="json")]
"""Like :data:`Amount`, 0 allowed."""
Cents = Annotated[Decimal, BeforeValidator(_not_a_float), _amount(False, 2),
                  PlainSerializer(dec_str, return_type=str, when_used="json")]
"""Money in whole cents (a top-up, a credit, a note): like :data:`Amount`, at most 2 decimal places."""

_DAY_RULE = 'a date "YYYY-MM-DD" from 2000-01-01 to 2099-12-31'


def _day(v: object) -> date:
    if isinstance(v, date) and not isinstance(v, datetime):
        d = v
    elif not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise PydanticCustomError("day_parsing", "{value} is not a date; allowed: " + _DAY_RULE,
                                  {"value": repr(v)[:40]})
    else:
        try:
            d = date.fromisoformat(v)
        except ValueError:
            raise PydanticCustomError("day_parsing", "{value} is not a date; allowed: " + _DAY_RULE,
                                      {"value": repr(v)}) from None
    if not INSTANT_MIN.date() <= d < INSTANT_MAX.date():
        raise PydanticCustomError("day_range", "{value} is out of range; allowed: " + _DAY_RULE, {"value": str(d)})
    return d


Day = Annotated[date, BeforeValidator(_day)]
"""A calendar date ``YYYY-MM-DD`` from 2000-01-01 to 2099-12-31."""

PERIOD_RULE = "a month YYYY-MM from 2000-01 to 2099-12, e.g. 2026-11"


def check_period(v: object) -> str:
    """A billing period: ``YYYY-MM``, year 2000 to 2099, month 01 to 12."""
    if not isinstance(v, str) or not re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])", v):
        raise PydanticCustomError("period", "{value} is not a period; allowed: " + PERIOD_RULE,
                                  {"value": repr(v)[:40] if isinstance(v, str) else type(v).__name__})
    return v


Period = Annotated[str, BeforeValidator(check_period),
                   Field(json_schema_extra={"pattern": r"^20\d{2}-(0[1-9]|1[0-2])$"})]
"""A billing month ``YYYY-MM`` (2000-01 to 2099-12)."""


def _name_or_empty(v: object) -> str:
    return "" if v == "" else _name(v)


NameOrEmpty = Annotated[
    str, BeforeValidator(_name_or_empty), Field(json_schema_extra={"pattern": r"^[A-Za-z0-9._-]*$", "maxLength": NAME_MAX})
]
"""A :data:`Name`, or ``""`` where empty means "any" (a package's model or site)."""


def _plan_tenant(v: object) -> str:
    return "*" if v == "*" else _name(v)


PlanTenant = Annotated[str, BeforeValidator(_plan_tenant), Field(json_schema_extra={"maxLength": NAME_MAX})]
"""A tenant's :data:`Name`, or ``*`` for the platform's default plan."""


DOC_STRING_MAX = 1_000
DOC_NUMBER_MAX = 10**15
DOC_DEPTH_MAX = 32
_DOC_RULE = (f"a JSON object whose strings have at most {DOC_STRING_MAX} characters and no control characters, "
             f"whose numbers lie within ±{DOC_NUMBER_MAX:,} and that nests at most {DOC_DEPTH_MAX} levels")


def _document(v: dict[str, Any]) -> dict[str, Any]:
    """Walk a free-form document (a fleet file, a price plan) once: every string, key and number in bounds.
    The service then validates its meaning field by field."""
    stack: list[tuple[Any, str, int]] = [(v, "", 0)]
    while stack:
        x, where, depth = stack.pop()
        if depth > DOC_DEPTH_MAX:
            raise PydanticCustomError("document", "{where} nests too deep; allowed: " + _DOC_RULE, {"where": where})
        if isinstance(x, dict):
            for k, y in x.items():
                stack.append((k, f"{where}.{k}"[:80] if isinstance(k, str) else where, depth + 1))
                stack.append((y, f"{where}.{k}"[:80], depth + 1))
        elif isinstance(x, list):
            stack.extend((y, f"{where}[{i}]"[:80], depth + 1) for i, y in enumerate(x))
        elif isinstance(x, str):
            bad = control_char(x)
            if len(x) > DOC_STRING_MAX or bad:
                why = f"has the control character {bad}" if bad else f"is too long ({len(x)} characters)"
                raise PydanticCustomError("document", "{where} " + why + "; allowed: " + _DOC_RULE,
                                          {"where": where.lstrip(".") or "body"})
        elif isinstance(x, int | float) and not isinstance(x, bool) and not abs(x) <= DOC_NUMBER_MAX:
            raise PydanticCustomError("document", "{where} is out of range; allowed: " + _DOC_RULE,
                                      {"where": where.lstrip(".") or "body"})
    return v


Document = Annotated[dict[str, Any], AfterValidator(_document)]
"""A free-form JSON object (a fleet document, a price plan) checked once for hostile values (control
characters, huge strings or numbers, deep nesting) before its service validates its meaning."""

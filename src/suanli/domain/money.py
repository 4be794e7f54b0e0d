"""Money and the one rounding rule.

Amounts are ``Decimal`` throughout. Intermediate amounts (rates × seconds) are kept exact (no
rounding); an invoice line is rounded **once**, to the currency's minor unit (0.01 for CNY/USD),
with ROUND_HALF_UP (四舍五入), by :func:`round_line`. Totals are sums of rounded lines, so an
invoice total always equals the sum of the lines a tenant sees.

**The range of an amount** that anyone enters (list prices, floors, plan rates, commit prices,
package prices, wallet top-ups, credits, voucher amounts) is checked by ONE validator,
:func:`check_amount`: a ``Decimal`` (or an ``int`` / decimal string, parsed exactly; never a
float or bool), finite, > 0 (>= 0 with ``allow_zero``), at most :data:`MAX_PLACES` (6) decimal
places and at most :data:`MAX_AMOUNT` (10^9) in the currency. The bound keeps every derived sum
(a year of a thousand devices at the largest price is ~8.8 × 10^15) far inside the store's
``NUMERIC(38, 12)`` (26 integer digits), so no stored amount can make a draft, a wallet or an
offer list overflow.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from suanli.errors import ValidationError

HOURS_PER_YEAR = Decimal(8760)
SECONDS_PER_HOUR = Decimal(3600)
MINOR_UNIT: dict[str, Decimal] = {"CNY": Decimal("0.01"), "USD": Decimal("0.01"), "EUR": Decimal("0.01")}
"""Currencies the platform bills in, and their minor unit."""


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Parse a money-like value exactly. Floats are refused (they are never exact)."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, (bool, float)):
        raise ValidationError(f"{field} must be a decimal string or integer, not a float ({value!r})", field=field)
    elif isinstance(value, int | str):
        try:
            d = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(f"{field} is not a number: {value!r}", field=field) from None
    else:
        raise ValidationError(f"{field} must be a decimal string, got {type(value).__name__}", field=field)
    if not d.is_finite():
        raise ValidationError(f"{field} must be finite, got {value!r}", field=field)
    return d


MAX_AMOUNT = Decimal(10) ** 9
"""The largest amount a single entered price, rate or amount may have (1,000,000,000)."""
MAX_PLACES = 6
"""The most decimal places an entered amount may have (0.000001)."""


def check_amount(
    value: object,
    field: str,
    *,
    allow_zero: bool = False,
    max: Decimal = MAX_AMOUNT,
    places: int = MAX_PLACES,
) -> Decimal:
    """The one range check for an entered money amount; returns it as an exact ``Decimal``.

    Refused (``ValidationError`` -> 422, naming ``field`` and what is allowed): floats and bools,
    non-numbers, NaN and ±Infinity, negatives, zero (unless ``allow_zero``), more than ``places``
    significant decimal places, more than ``max``.
    """
    sign = ">= 0" if allow_zero else "> 0"
    allowed = f"allowed: a decimal {sign} and <= {max} with at most {places} decimal places"
    try:
        d = to_decimal(value, field=field)
    except ValidationError as e:
        raise ValidationError(f"{e.message}; {allowed}", field=field) from None
    if d < 0 or (d == 0 and not allow_zero):
        raise ValidationError(f"{field} must be {sign}, got {d}; {allowed}", field=field)
    if d > max:
        raise ValidationError(f"{field} {d} is above the largest allowed amount; {allowed}", field=field)
    if d != d.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError(f"{field} {d} has more than {places} decimal places; {allowed}", field=field)
    return d


def check_currency(currency: str) -> str:
    if currency not in MINOR_UNIT:
        raise ValidationError(
            f"unknown currency {currency!r}; allowed: {', '.join(sorted(MINOR_UNIT))}", field="currency"
        )
    return currency


def round_line(amount: Decimal, currency: str = "CNY") -> Decimal:
    """The single rounding point: one invoice line, to the minor unit, half up."""
    return amount.quantize(MINOR_UNIT[check_currency(currency)], rounding=ROUND_HALF_UP)


def minor(amount: Decimal, currency: str = "CNY") -> Decimal:
    """An amount that is already whole minor units (an invoice line, a total, a credit note) with
    exactly the currency's places (``48`` and ``48.000000000000`` both become ``48.00``): how every
    amount of an invoice document is held and printed. Not a rounding point: a value with finer
    digits is rounded half up as :func:`round_line` would."""
    return round_line(amount, currency)


def money_text(amount: Decimal, currency: str = "CNY", *, grouped: bool = False) -> str:
    """The one way an amount is written (wire strings, CSV, HTML, terminal): fixed point, the
    currency's places; ``grouped`` adds thousands separators for people (``1,870.37``)."""
    return format(minor(amount, currency), ",f" if grouped else "f")

"""Money and the one rounding rule.

Amounts are ``Decimal`` throughout. Intermediate amounts (rates × seconds) are kept exact (no
rounding); an invoice line is rounded **once**, to the currency's minor unit (0.01 for CNY/USD),
with ROUND_HALF_UP (四舍五入), by :func:`round_line`. Totals are sums of rounded lines, so an
invoice total always equals the sum of the lines a tenant sees.
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


def check_currency(currency: str) -> str:
    if currency not in MINOR_UNIT:
        raise ValidationError(
            f"unknown currency {currency!r}; allowed: {', '.join(sorted(MINOR_UNIT))}", field="currency"
        )
    return currency


def round_line(amount: Decimal, currency: str = "CNY") -> Decimal:
    """The single rounding point: one invoice line, to the minor unit, half up."""
    return amount.quantize(MINOR_UNIT[check_currency(currency)], rounding=ROUND_HALF_UP)

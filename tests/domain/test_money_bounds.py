"""check_amount: the one range check for entered money amounts (docs/billing.md, "Money range")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.money import MAX_AMOUNT, MAX_PLACES, check_amount
from suanli.errors import ValidationError


@pytest.mark.parametrize("value", ["1", "0.000001", "1000000000", 5, Decimal("6.50"), " 9 "])
def test_accepts_amounts_in_range(value: object) -> None:
    d = check_amount(value, "price")
    assert isinstance(d, Decimal)
    assert d == Decimal(str(value).strip())


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "> 0"), ("-1", "> 0"), (Decimal("-0.01"), "> 0"),
        (1.5, "float"), (True, "float"), (float("nan"), "float"),
        ("NaN", "finite"), ("Infinity", "finite"), ("-Infinity", "finite"), (Decimal("sNaN"), "finite"),
        ("abc", "not a number"), (None, "decimal string"), ("", "not a number"),
        ("1000000000.000001", "largest"), ("1e400", "largest"), ("1" + "0" * 500, "largest"),
        ("0.0000001", "decimal places"), ("1.1234567", "decimal places"),
    ],
)
def test_refuses_with_what_is_allowed(value: object, says: str) -> None:
    with pytest.raises(ValidationError) as e:
        check_amount(value, "price")
    assert says in str(e.value)
    assert "price" in str(e.value)
    assert e.value.status == 422


def test_allow_zero_and_own_bound() -> None:
    assert check_amount("0", "credit", allow_zero=True) == 0
    with pytest.raises(ValidationError, match=">= 0"):
        check_amount("-1", "credit", allow_zero=True)
    with pytest.raises(ValidationError, match="<= 100"):
        check_amount("101", "discount", max=Decimal(100))
    assert check_amount("0.01", "x", places=2) == Decimal("0.01")
    with pytest.raises(ValidationError, match="2 decimal places"):
        check_amount("0.001", "x", places=2)


def test_trailing_zeros_beyond_places_are_fine() -> None:
    assert check_amount("1.500000000", "price") == Decimal("1.5")


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False) | st.decimals())
def test_property_accepted_iff_in_documented_range(d: Decimal) -> None:
    ok = d.is_finite() and 0 < d <= MAX_AMOUNT and d == d.quantize(Decimal(1).scaleb(-MAX_PLACES))
    try:
        got = check_amount(d, "amount")
    except ValidationError:
        assert not ok
    else:
        assert ok and got == d

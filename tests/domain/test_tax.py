"""Tax per product type: what each line is, the rate in force, the tax per rate (rounded once per rate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.tax import ProductType, TaxRate, check_rate, product_type, rates_at
from suanli.errors import ValidationError

T = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(("kind", "meter", "want"), [
    ("usage", "device_seconds", ProductType.COMPUTE), ("adjustment", "node_seconds", ProductType.COMPUTE),
    ("term_fee", "device_seconds", ProductType.COMPUTE), ("package_covered", "device_seconds", ProductType.COMPUTE),
    ("usage", "job_device_seconds", ProductType.COMPUTE), ("package_fee", "device_seconds", ProductType.PACKAGE),
    ("package_fee", "inference_input_tokens", ProductType.PACKAGE), ("usage", "storage_gb_hours", ProductType.STORAGE),
    ("usage", "egress_gb", ProductType.TRAFFIC), ("unpriced", "data_processed_gb", ProductType.TRAFFIC),
    ("commit_true_up", "training_tokens", ProductType.TOKENS), ("usage", "inference_output_tokens", ProductType.TOKENS),
])
def test_product_type_of_a_line(kind: str, meter: str, want: ProductType) -> None:
    assert product_type(kind, meter) is want


def test_rates_in_force_and_the_default() -> None:
    rows = [TaxRate(ProductType.COMPUTE, Decimal("0.06"), T, T, "op"),
            TaxRate(ProductType.COMPUTE, Decimal("0.09"), T + timedelta(days=30), T, "op"),
            TaxRate(ProductType.TOKENS, Decimal("0.13"), T + timedelta(days=1), T, "op")]
    before = rates_at(rows, T - timedelta(seconds=1), Decimal("0.01"))
    assert set(before.values()) == {Decimal("0.01")}
    at = rates_at(rows, T + timedelta(days=2), Decimal(0))
    assert at[ProductType.COMPUTE] == Decimal("0.06") and at[ProductType.TOKENS] == Decimal("0.13")
    assert rates_at(rows, T + timedelta(days=30), Decimal(0))[ProductType.COMPUTE] == Decimal("0.09")


@pytest.mark.parametrize(("rate", "says"), [("1", "exclusive"), ("-0.01", "inclusive"), ("0.00001", "4 decimal"),
                                            ("NaN", "fraction")])
def test_bad_rates(rate: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        check_rate(Decimal(rate), T, T)


def test_a_rate_never_starts_in_the_past() -> None:
    with pytest.raises(ValidationError, match="in the past"):
        check_rate(Decimal("0.06"), T - timedelta(microseconds=1), T)
    assert check_rate(Decimal("0.0600"), T, T) == Decimal("0.06") and check_rate(Decimal(0), T, T) == 0

"""The tax of an invoice per rate: grouped by the rate of each line's product type, rounded once per rate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.tax import ProductType
from suanli.ledger.invoices import settle, tax_groups
from suanli.ledger.rating import ChargeLine

T = datetime(2026, 11, 1, tzinfo=UTC)


def line(meter: str, amount: str, kind: str = "usage") -> ChargeLine:
    on_node = meter == "device_seconds"  # a supplier's share, else the operator's own
    a = Decimal(amount)
    return ChargeLine(kind, meter, "H800", "s", "sup" if on_node else "", "", "", "", T, T, Decimal(1), "x", a, a,
                      a if on_node else Decimal(0), Decimal(0) if on_node else a, 1, False, "2026-11")


def test_groups_by_rate_and_rounds_once_per_group() -> None:
    lines = [line("device_seconds", "0.05"), line("device_seconds", "0.05"), line("inference_input_tokens", "0.05"),
             line("device_seconds", "10.00", "package_fee")]
    rates = {ProductType.COMPUTE: Decimal("0.06"), ProductType.TOKENS: Decimal("0.13")}
    g = tax_groups(lines, rates, Decimal("0.06"))  # packages: the default, 6 %, taxed with compute
    assert [(x.rate, x.product_types, x.base, x.tax) for x in g] == [
        (Decimal("0.13"), (ProductType.TOKENS,), Decimal("0.05"), Decimal("0.01")),
        (Decimal("0.06"), (ProductType.COMPUTE, ProductType.PACKAGE), Decimal("10.10"), Decimal("0.61"))]
    st_ = settle("acme", "inv", T, lines, tax_rate=Decimal("0.06"), tax_rates=rates)
    assert st_.tax == Decimal("0.62") and st_.taxes == g
    assert sum(e.postings[-1].amount for e in st_.entries[:1]) == Decimal("-0.62")  # the tax account's leg


amounts = st.decimals(min_value=Decimal("-100"), max_value=Decimal("100000"), places=2)


@given(st.lists(amounts, max_size=20), st.decimals(min_value=0, max_value=Decimal("0.9999"), places=4))
def test_one_rate_for_everything_is_the_former_rule(xs: list[Decimal], rate: Decimal) -> None:
    lines = [line("device_seconds" if i % 2 else "egress_gb", str(x)) for i, x in enumerate(xs)]
    st_ = settle("acme", "inv", T, lines, tax_rate=rate)
    want = (sum(xs, Decimal(0)) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP) if rate and xs else Decimal(0)
    assert st_.tax == want
    assert sum((g.tax for g in st_.taxes), Decimal(0)) == st_.tax

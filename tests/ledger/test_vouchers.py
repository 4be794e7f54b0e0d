"""Voucher rules (ledger/vouchers.py): what a voucher may pay, by the rules of its scheme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.ledger import invoices as inv
from suanli.ledger.meters import Meter, UsageRecord
from suanli.ledger.plans import PlanKind, PricePlan, Rate
from suanli.ledger.rating import RatingInput, rate
from suanli.ledger.vouchers import Voucher

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
MODELS = {m.name: m for m in builtin_catalog()}
BOOK = PriceBook([PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY",
                             datetime(2020, 1, 1, tzinfo=UTC))], MODELS)
DEFAULT = PricePlan("default", "*", PlanKind.PAYG, datetime(2020, 1, 1, tzinfo=UTC),
                    rates=(Rate(Meter.INFERENCE_OUTPUT_TOKENS, Decimal(8)),))
PAID = PricePlan("pl_paid", "t1", PlanKind.PAYG, T0, paid=True)


def _rated(plans: list[PricePlan]) -> list[object]:
    recs = [UsageRecord("s", "d1", Meter.DEVICE_SECONDS, "t1", T0 + timedelta(hours=1), Decimal(36000), "L20",
                        "sh", "sup1"),
            UsageRecord("s", "k1", Meter.INFERENCE_OUTPUT_TOKENS, "t1", T0 + timedelta(hours=2), Decimal(5_000_000))]
    return list(rate(RatingInput("t1", T0, T1, recs, plans, BOOK, {k: m.p for k, m in MODELS.items()})).lines)


def test_a_voucher_never_pays_a_list_price_token_line_under_a_paid_contract() -> None:
    """The defect: the tenant's paid contract prices only its device time; its tokens are bought at
    the default plan's list price, and the voucher paid them too."""
    lines = _rated([DEFAULT, PAID])
    by_meter = {x.meter: x for x in lines}  # type: ignore[attr-defined]
    assert by_meter["device_seconds"].paid_contract and by_meter["device_seconds"].amount == Decimal("26.00")
    assert not by_meter["inference_output_tokens"].paid_contract  # 40.00 at the default plan's list price
    v = Voucher("v1", "city", "t1", Decimal("0.5"), Decimal(1000), T0, T1)
    s = inv.settle("t1", "inv1", T1, lines, vouchers=[v])  # type: ignore[arg-type]
    assert s.vouchers == Decimal("13.00")  # 50 % of the device line only
    (refused,) = s.refusals
    assert lines[refused.line_no].meter == "inference_output_tokens"  # type: ignore[attr-defined]
    assert refused.rule == "not_paid_contract"


def test_a_token_rate_of_the_paid_contract_itself_is_paid() -> None:
    plan = PricePlan("pl_paid", "t1", PlanKind.PAYG, T0, paid=True,
                     rates=(Rate(Meter.INFERENCE_OUTPUT_TOKENS, Decimal(6)),))
    lines = _rated([DEFAULT, plan])
    assert all(x.paid_contract for x in lines)  # type: ignore[attr-defined]


def test_no_contract_no_voucher() -> None:
    lines = _rated([DEFAULT])
    assert not any(x.paid_contract for x in lines)  # type: ignore[attr-defined]

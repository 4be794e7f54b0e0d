"""Properties of the pure ledger: entries balance, rating is deterministic, nothing counts twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.errors import ValidationError
from suanli.ledger import invoices as inv
from suanli.ledger.meters import Meter, UsageRecord, parse_event
from suanli.ledger.packages import Package
from suanli.ledger.plans import PlanKind, PricePlan, Rate, Tier
from suanli.ledger.postings import Posting, balances, entry
from suanli.ledger.rating import RatingInput, rate
from suanli.ledger.vouchers import Voucher

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
MODELS = {m.name: m for m in builtin_catalog()}
BOOK = PriceBook([PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(90000), "CNY", datetime(2020, 1, 1, tzinfo=UTC)),
                  PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(180000), "CNY", T0 + timedelta(days=10)),
                  PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY",
                             datetime(2020, 1, 1, tzinfo=UTC))], MODELS)
PLANS = [PricePlan("default", "*", PlanKind.PAYG, datetime(2020, 1, 1, tzinfo=UTC), rates=(
    Rate(Meter.INFERENCE_INPUT_TOKENS, Decimal(2)),
    Rate(Meter.EGRESS_GB, Decimal("0.8"), tiers=(Tier(Decimal(100), Decimal("0.8")), Tier(None, Decimal("0.5"))))))]

records = st.lists(st.builds(
    lambda i, m, q, s, sup: UsageRecord(
        "src", f"e{i}", m, "t1", T0 + timedelta(seconds=s), Decimal(q),
        model="H800" if m is Meter.DEVICE_SECONDS and i % 2 else ("L20" if m is Meter.DEVICE_SECONDS else ""),
        site="sh", supplier=sup),
    st.integers(0, 10**6), st.sampled_from([Meter.DEVICE_SECONDS, Meter.INFERENCE_INPUT_TOKENS, Meter.EGRESS_GB]),
    st.integers(0, 5_000_000), st.integers(0, 29 * 86400), st.sampled_from(["s1", "s2"])),
    max_size=60, unique_by=lambda r: r.id)


def _rate(recs: list[UsageRecord], packages: list[Package] | None = None) -> list[object]:
    out = rate(RatingInput("t1", T0, T1, recs, PLANS, BOOK, {k: m.p for k, m in MODELS.items()},
                           packages=packages or [], floors={("s1", "H800"): Decimal(7)}))
    return [(x.kind, x.meter, x.model, x.supplier, x.quantity, x.unit_price, x.amount, x.supplier_share,
             x.commission) for x in out.lines]


@settings(max_examples=60, deadline=None)
@given(records, st.randoms())
def test_rerating_gives_the_same_cents_in_any_order(recs: list[UsageRecord], rnd: object) -> None:
    shuffled = list(recs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert _rate(recs) == _rate(shuffled)


@settings(max_examples=60, deadline=None)
@given(records)
def test_no_double_counting_quantities_add_up(recs: list[UsageRecord]) -> None:
    pkg = Package("p1", "t1", Meter.DEVICE_SECONDS, Decimal(3), T0, T1)
    out = rate(RatingInput("t1", T0, T1, recs, PLANS, BOOK, {k: m.p for k, m in MODELS.items()}, packages=[pkg]))
    for meter, div in ((Meter.DEVICE_SECONDS, 3600), (Meter.INFERENCE_INPUT_TOKENS, 10**6), (Meter.EGRESS_GB, 1)):
        used = sum((r.quantity for r in recs if r.meter is meter), Decimal(0)) / div
        billed = sum((x.quantity for x in out.lines if x.meter == meter.value and x.kind != "package_fee"), Decimal(0))
        assert abs(billed - used) < Decimal("1e-20")  # 28-digit Decimal context; each line divides once
    assert sum(out.package_draws.values(), Decimal(0)) <= 3
    for x in out.lines:
        assert x.supplier_share + x.commission == x.amount


@settings(max_examples=60, deadline=None)
@given(records, st.decimals(0, 1000, places=2), st.decimals(0, 1000, places=2), st.booleans())
def test_settlement_entries_always_balance(recs: list[UsageRecord], wallet: Decimal, credit: Decimal,
                                           related: bool) -> None:
    out = rate(RatingInput("t1", T0, T1, recs, PLANS, BOOK, {k: m.p for k, m in MODELS.items()}))
    v = Voucher("v1", "city", "t1", Decimal("0.3"), Decimal(50), T0, T1)
    s = inv.settle("t1", "inv1", T1, out.lines, vouchers=[v], related={"s1"} if related else set(),
                   credit_balance=credit, wallet_balance=wallet, tax_rate=Decimal("0.06"))
    for e in s.entries:
        assert sum((p.amount for p in e.postings), Decimal(0)) == 0
    assert sum(balances(s.entries).values(), Decimal(0)) == 0
    assert s.amount_due >= 0 and s.vouchers <= 50
    assert s.total == s.vouchers + s.credits + s.wallet + s.amount_due


def test_an_unbalanced_entry_is_refused() -> None:
    with pytest.raises(ValidationError, match="does not balance"):
        entry("x", "r", T0, [("a", Decimal("1.00")), ("b", Decimal("-0.99"))])
    with pytest.raises(ValidationError, match="whole"):
        entry("x", "r", T0, [("a", Decimal("1.001")), ("b", Decimal("-1.001"))])
    assert Posting("a", Decimal(1)).amount == 1


def test_event_validation_names_what_is_wrong() -> None:
    ok = {"id": "1", "source": "s", "type": "suanli.usage.device_seconds", "subject": "t",
          "time": "2026-11-01T00:00:00Z", "data": {"quantity": "3600", "model": "L20", "share": "0.25"}}
    r = parse_event(ok, now=T1)
    assert r.quantity == 900 and r.meter is Meter.DEVICE_SECONDS
    assert parse_event(dict(ok), now=T1).payload_hash == r.payload_hash
    changed = {**ok, "data": {**ok["data"], "quantity": "3601"}}  # type: ignore[dict-item]
    assert parse_event(changed, now=T1).payload_hash != r.payload_hash
    for bad, msg in [({"type": "cpu"}, "unknown meter"), ({"data": {"quantity": "-1", "model": "L20"}}, ">= 0"),
                     ({"data": {"quantity": 0.5, "model": "L20"}}, "not a float"),
                     ({"data": {"quantity": "1"}}, "needs data.model"),
                     ({"time": "2027-01-01T00:00:00Z"}, "in the future"), ({"time": "yesterday"}, "ISO-8601")]:
        with pytest.raises(ValidationError, match=msg):
            parse_event({**ok, **bad}, now=T1)


@settings(max_examples=200, deadline=None)
@given(cents_=st.integers(0, 10**7), weights=st.lists(st.tuples(st.sampled_from(["s1", "s2"]),
                                                                st.sampled_from(["n1", "n2", "n3"]),
                                                                st.integers(0, 10**6)), max_size=6),
       rate_pct=st.integers(0, 100))
def test_sla_credit_split_adds_up_and_its_entry_balances(cents_: int, weights: list[tuple[str, str, int]],
                                                         rate_pct: int) -> None:
    from suanli.ledger.sla import sla_entry, split_credit
    amount = Decimal(cents_) / 100
    parts = split_credit(amount, [(s, n, Decimal(w)) for s, n, w in weights], Decimal(rate_pct) / 100)
    if amount and any(w for _s, _n, w in weights):
        assert sum(x.amount for x in parts) == amount  # to the cent, nothing lost or made up
    else:
        assert parts == []  # nobody's device to charge: the operator bears it all
    for x in parts:
        assert 0 <= x.supplier_share <= x.amount and x.supplier_share == x.supplier_share.quantize(Decimal("0.01"))
    if amount:
        e = sla_entry("t1", "sla:1", T0, amount, parts, "test")
        assert sum(p.amount for p in e.postings) == 0
        assert dict((p.account, p.amount) for p in e.postings)["credit:t1"] == -amount

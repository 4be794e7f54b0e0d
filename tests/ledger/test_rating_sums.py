"""Rating from sums (what the store sums where the usage lives) gives the lines of rating the
records one by one, to the digit: plans changing mid-month, an order's plan, a commit, tiers,
list-price changes, late usage of earlier months, a spot interruption, records right on a cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.ledger.meters import Meter, UsageRecord
from suanli.ledger.packages import Package
from suanli.ledger.plans import PlanKind, PricePlan, Rate, Term, Tier
from suanli.ledger.rating import RatingInput, cuts, rate, summable, summarise

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
OLD = datetime(2020, 1, 1, tzinfo=UTC)
CHANGE = T0 + timedelta(days=10, hours=3)
MODELS = {m.name: m for m in builtin_catalog()}
DEVICE_P = {k: m.p for k, m in MODELS.items()}
BOOK = PriceBook([PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(90000), "CNY", OLD),
                  PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(180000), "CNY", CHANGE),
                  PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY", OLD),
                  PriceEntry("L20", "sz", PriceUnit.DEVICE_HOUR, Decimal("2.35"), "CNY", OLD),
                  PriceEntry("L20", "sz", PriceUnit.DEVICE_HOUR, Decimal("2.10"), "CNY", T0 + timedelta(days=20))],
                 MODELS)
DEFAULT = PricePlan("default", "*", PlanKind.PAYG, OLD, rates=(
    Rate(Meter.INFERENCE_INPUT_TOKENS, Decimal(2)),
    Rate(Meter.EGRESS_GB, Decimal("0.8"), tiers=(Tier(Decimal(100), Decimal("0.8")), Tier(None, Decimal("0.5"))))))
CONTRACT = PricePlan("contract", "t1", PlanKind.PAYG, T0 + timedelta(days=5), T0 + timedelta(days=25),
                     discount=Decimal("0.17"), paid=True)
ORDER = PricePlan("order", "t1", PlanKind.SPOT, OLD, order="o1", discount=Decimal("0.3"))
COMMIT = PricePlan("commit", "t1", PlanKind.COMMIT, T0 + timedelta(days=15), order="o2",
                   commit_meter=Meter.DEVICE_SECONDS, commit_model="L20", commit_quantity=Decimal(500),
                   commit_price=Decimal("1.9"), paid=True)
STOP = T0 + timedelta(days=18, seconds=7)
EDGES = [T0, CHANGE, T0 + timedelta(days=5), T0 + timedelta(days=25), T0 + timedelta(days=15), STOP,
         T0 + timedelta(days=20)]

times = st.one_of(st.integers(-40 * 86400, 30 * 86400 - 1).map(lambda s: T0 + timedelta(seconds=s)),
                  st.sampled_from(EDGES), st.sampled_from(EDGES).map(lambda t: t - timedelta(microseconds=1)))
kinds = st.tuples(  # what a record is for: meter, (model, site, supplier, node), order, lease
    st.sampled_from([Meter.DEVICE_SECONDS, Meter.INFERENCE_INPUT_TOKENS, Meter.EGRESS_GB, Meter.JOB_DEVICE_SECONDS]),
    st.sampled_from([("H800", "sh", "s1", "n1"), ("H800", "sh", "s1", "n2"), ("L20", "sz", "s2", ""),
                     ("L20", "bj", "s2", "n9")]),
    st.sampled_from(["", "o1", "o2"]), st.sampled_from(["", "l1", "l2"]))


@st.composite
def records(draw: st.DrawFn) -> list[UsageRecord]:
    """A few kinds of usage, many records of each (so that sums really sum), at any time."""
    ks = draw(st.lists(kinds, min_size=1, max_size=4))
    out = []
    for i in range(draw(st.integers(0, 120))):
        m, dims, order, lease = ks[draw(st.integers(0, len(ks) - 1))]
        q = draw(st.sampled_from([0, draw(st.integers(0, 5_000_000_000))]))
        out.append(UsageRecord("src", f"e{i}", m, "t1", draw(times), Decimal(q) / 1000,
                               model=dims[0] if m is Meter.DEVICE_SECONDS else "", site=dims[1], supplier=dims[2],
                               node=dims[3], lease=lease, order=order))
    return out


def _input(recs: list[UsageRecord], plans: list[PricePlan], *, from_sums: bool, final: bool = True,
           packages: list[Package] | None = None) -> RatingInput:
    stops = {"l2": STOP}
    sums = summarise(recs, cuts("t1", T0, T1, plans, BOOK, stops)) if from_sums else []
    return RatingInput("t1", T0, T1, [] if from_sums else recs, plans, BOOK, DEVICE_P, packages=packages or [],
                       floors={("s1", "H800"): Decimal(7)}, lease_commission={"l1": Decimal("0.1")}, stops=stops,
                       final=final, sums=sums)


@settings(max_examples=150, deadline=None)
@given(records(), st.sets(st.sampled_from(["contract", "order", "commit"])), st.booleans())
def test_rating_from_sums_gives_the_lines_of_rating_record_by_record(recs: list[UsageRecord], which: set[str],
                                                                     final: bool) -> None:
    plans = [DEFAULT] + [p for p in (CONTRACT, ORDER, COMMIT) if p.id in which]
    one_by_one = rate(_input(recs, plans, from_sums=False, final=final))
    summed = rate(_input(recs, plans, from_sums=True, final=final))
    assert summed.lines == one_by_one.lines  # every field: amounts, quantities, first/last, record counts
    assert summed.dropped == one_by_one.dropped
    assert summed.package_draws == one_by_one.package_draws == {}


def test_sums_are_refused_where_records_draw_down_in_time_order() -> None:
    term = PricePlan("term", "t1", PlanKind.TERM, T0, term=Term.MONTH, term_model="H800", term_devices=Decimal(1))
    pkg = Package("p1", "t1", Meter.DEVICE_SECONDS, Decimal(3), T0, T1)
    used_up = Package("p2", "t1", Meter.DEVICE_SECONDS, Decimal(3), T0, T1, used=Decimal(3))
    assert summable("t1", [DEFAULT, CONTRACT], [used_up])
    assert not summable("t1", [DEFAULT, term], [])
    assert not summable("t1", [DEFAULT], [pkg])
    rec = UsageRecord("src", "e1", Meter.DEVICE_SECONDS, "t1", T0, Decimal(3600), model="H800", site="sh")
    with pytest.raises(ValueError, match="draw down"):
        rate(_input([rec], [DEFAULT], from_sums=True, packages=[pkg]))

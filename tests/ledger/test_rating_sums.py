"""Rating from sums (what the store sums where the usage lives, all but the kinds a term contract
or a package draws down) gives the lines of rating every record one by one, to the digit: plans
changing mid-month, an order's plan, a commit, a term contract and packages running out, tiers,
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
from suanli.ledger.rating import RatingInput, cuts, drawn_kinds, is_drawn, rate, summarise

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
DEFAULT_UNTIL = PricePlan("default-old", "*", PlanKind.PAYG, OLD, T0 + timedelta(days=12, hours=1), rates=(
    Rate(Meter.INFERENCE_INPUT_TOKENS, Decimal(2)), Rate(Meter.EGRESS_GB, Decimal("0.8"))))
DEFAULT_FROM = PricePlan("default-new", "*", PlanKind.PAYG, T0 + timedelta(days=12, hours=1), rates=(
    Rate(Meter.INFERENCE_INPUT_TOKENS, Decimal(3)),
    Rate(Meter.EGRESS_GB, Decimal("0.9"), tiers=(Tier(Decimal(50), Decimal("0.9")), Tier(None, Decimal("0.6"))))))
CONTRACT = PricePlan("contract", "t1", PlanKind.PAYG, T0 + timedelta(days=5), T0 + timedelta(days=25),
                     discount=Decimal("0.17"), paid=True)
ORDER = PricePlan("order", "t1", PlanKind.SPOT, OLD, order="o1", discount=Decimal("0.3"))
COMMIT = PricePlan("commit", "t1", PlanKind.COMMIT, T0 + timedelta(days=15), order="o2",
                   commit_meter=Meter.DEVICE_SECONDS, commit_model="L20", commit_quantity=Decimal(500),
                   commit_price=Decimal("1.9"), commit_devices=Decimal(1), reservation="ls_commit", paid=True)
TERM = PricePlan("term", "t1", PlanKind.TERM, T0 + timedelta(days=2), T0 + timedelta(days=14), term=Term.MONTH,
                 term_model="H800", term_devices=Decimal("0.5"), reservation="ls_term", paid=True)
PACKAGES = [Package("p-l20", "t1", Meter.DEVICE_SECONDS, Decimal(300), T0, T1, model="L20"),
            Package("p-egress", "t1", Meter.EGRESS_GB, Decimal(4000), T0 + timedelta(days=2), T0 + timedelta(days=20)),
            Package("p-used-up", "t1", Meter.INFERENCE_INPUT_TOKENS, Decimal(5), T0, T1, used=Decimal(5))]
STOP = T0 + timedelta(days=18, seconds=7)
EDGES = [T0, CHANGE, DEFAULT_FROM.effective_from, T0 + timedelta(days=5), T0 + timedelta(days=25), T0 + timedelta(days=15), STOP,
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
    """Every record one by one, or the kinds drawn down one by one and the rest as sums."""
    stops = {"l2": STOP}
    packages = packages or []
    sums = []
    if from_sums:
        kinds = drawn_kinds("t1", plans, packages)
        sums = summarise([r for r in recs if not is_drawn(kinds, r.meter, r.model)],
                         cuts("t1", T0, T1, plans, BOOK, stops))
        recs = [r for r in recs if is_drawn(kinds, r.meter, r.model)]
    return RatingInput("t1", T0, T1, recs, plans, BOOK, DEVICE_P, packages=packages,
                       floors={("s1", "H800"): Decimal(7)}, lease_commission={"l1": Decimal("0.1")}, stops=stops,
                       final=final, sums=sums)


@settings(max_examples=150, deadline=None)
@given(records(), st.sets(st.sampled_from(["contract", "order", "commit", "term", "default-change"])), st.booleans(),
       st.booleans())
def test_rating_from_sums_gives_the_lines_of_rating_record_by_record(recs: list[UsageRecord], which: set[str],
                                                                     final: bool, packages: bool) -> None:
    defaults = [DEFAULT_UNTIL, DEFAULT_FROM] if "default-change" in which else [DEFAULT]
    plans = defaults + [p for p in (CONTRACT, ORDER, COMMIT, TERM) if p.id in which]
    pkgs = PACKAGES if packages else []
    one_by_one = rate(_input(recs, plans, from_sums=False, final=final, packages=pkgs))
    summed = rate(_input(recs, plans, from_sums=True, final=final, packages=pkgs))
    assert summed.lines == one_by_one.lines  # every field: amounts, quantities, first/last, record counts
    assert summed.dropped == one_by_one.dropped
    assert summed.package_draws == one_by_one.package_draws


def test_only_what_is_drawn_down_is_rated_record_by_record() -> None:
    term = PricePlan("term", "t1", PlanKind.TERM, T0, term=Term.MONTH, term_model="H800", term_devices=Decimal(1))
    others = PricePlan("term2", "t2", PlanKind.TERM, T0, term=Term.MONTH, term_model="L20", term_devices=Decimal(1))
    assert drawn_kinds("t1", [DEFAULT, CONTRACT, others], PACKAGES[2:]) == frozenset()  # used up; not t1's
    kinds = drawn_kinds("t1", [DEFAULT, term], PACKAGES)
    assert kinds == {(Meter.DEVICE_SECONDS, "H800"), (Meter.DEVICE_SECONDS, "L20"), (Meter.EGRESS_GB, "")}
    assert is_drawn(kinds, Meter.EGRESS_GB, "anything") and not is_drawn(kinds, Meter.DEVICE_SECONDS, "RTX-4090")
    rec = UsageRecord("src", "e1", Meter.DEVICE_SECONDS, "t1", T0, Decimal(3600), model="L20", site="sz")
    inp = _input([rec], [DEFAULT], from_sums=True, packages=PACKAGES)
    assert inp.records == [rec] and not inp.sums
    inp.records, inp.sums = [], summarise([rec], [T0, T1])
    with pytest.raises(ValueError, match="draws it down"):
        rate(inp)


def test_a_term_contract_running_out_between_interleaved_nodes_is_rated_record_by_record() -> None:
    # n1, n2, n1 in time order; the term covers 0.5 device x 12 days and runs out on the third record
    at = [T0 + timedelta(days=3, hours=h) for h in (1, 2, 3)]
    recs = [UsageRecord("src", f"e{i}", Meter.DEVICE_SECONDS, "t1", t, Decimal(q), model="H800", site="sh",
                        supplier="s1", node=node)
            for i, (t, node, q) in enumerate(zip(at, ("n1", "n2", "n1"), (200_000, 200_000, 200_000), strict=True))]
    one_by_one = rate(_input(recs, [DEFAULT, TERM], from_sums=False))
    assert rate(_input(recs, [DEFAULT, TERM], from_sums=True)).lines == one_by_one.lines
    covered = {x.node: x.quantity for x in one_by_one.lines if x.kind == "term_covered"}
    assert covered == {"n1": Decimal(200_000 + 118_400) / 3600, "n2": Decimal(200_000) / 3600}


def test_a_new_default_plan_mid_month_prices_the_usage_after_it() -> None:
    recs = [UsageRecord("src", f"e{i}", Meter.INFERENCE_INPUT_TOKENS, "t1", T0 + timedelta(days=d), Decimal(10**6))
            for i, d in enumerate((1, 20, 21))]
    for from_sums in (False, True):
        lines = rate(_input(recs, [DEFAULT_UNTIL, DEFAULT_FROM], from_sums=from_sums)).lines
        assert [(x.quantity, x.unit_price, x.amount, x.records) for x in lines] == [
            (1, 2, Decimal("2.00"), 1), (2, 3, Decimal("6.00"), 2)]

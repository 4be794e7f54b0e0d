"""Price quotes (pure): what rating would charge at the grant, fixed for a bound lease; the term
total is what the lease's invoice lines add up to; rating from sums agrees with record by record
across an extension's new quote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.leases import Allocation, Lease, LeaseState, ProductForm
from suanli.domain.money import round_line
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.ledger.metering import lease_records
from suanli.ledger.meters import Meter
from suanli.ledger.packages import Package
from suanli.ledger.plans import PlanKind, PricePlan, Rate, Tier
from suanli.ledger.quotes import (
    Basis,
    Pricing,
    Unquotable,
    binds,
    build_quote,
    holdings,
    lease_rates,
    q12,
    quote_rate,
    rate_at,
)
from suanli.ledger.rating import RatingInput, cuts, rate, summarise

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
OLD = datetime(2020, 1, 1, tzinfo=UTC)
MODELS = {m.name: m for m in builtin_catalog()}
DEVICE_P = {k: m.p for k, m in MODELS.items()}


def book(*entries: tuple[str, str | None, PriceUnit, str, datetime]) -> PriceBook:
    return PriceBook([PriceEntry(m, s, u, Decimal(a), "CNY", t) for m, s, u, a, t in entries], MODELS)


BOOK = book(("H800", None, PriceUnit.P_YEAR, "90000", OLD), ("L20", None, PriceUnit.DEVICE_HOUR, "2.60", OLD),
            ("L20", "sz", PriceUnit.DEVICE_HOUR, "2.35", OLD))


def test_quote_is_list_minus_discount_in_force_at_the_grant() -> None:
    at = T0 + timedelta(days=3)
    contract = PricePlan("c1", "t1", PlanKind.PAYG, T0, discount=Decimal("0.2"))
    r = quote_rate([contract], BOOK, "t1", "o1", "H800", "sh", at, DEVICE_P["H800"])
    listed = Decimal(90000) * DEVICE_P["H800"] / 8760
    assert (r.device_hour, r.basis, r.plan) == (q12(listed * Decimal("0.8")), Basis.LIST, "c1")
    assert r.list_device_hour == q12(listed)
    assert abs(r.p_year(DEVICE_P["H800"]) - Decimal(72000)) < Decimal("1e-6")  # both units
    # the site's own list price wins over the model's default
    assert quote_rate([], BOOK, "t1", "o1", "L20", "sz", at, None).device_hour == Decimal("2.35")
    assert quote_rate([], BOOK, "t1", "o1", "L20", "bj", at, None).device_hour == Decimal("2.6")


def test_quote_takes_the_order_plan_rate_then_the_commit_price() -> None:
    at = T0 + timedelta(days=3)
    contract = PricePlan("c1", "t1", PlanKind.PAYG, T0, discount=Decimal("0.2"))
    order_plan = PricePlan("op", "t1", PlanKind.PAYG, T0, order="o1", rates=(
        Rate(Meter.DEVICE_SECONDS, Decimal(100000), "H800", "p_year"),))
    r = quote_rate([contract, order_plan], BOOK, "t1", "o1", "H800", "sh", at, DEVICE_P["H800"])
    assert (r.basis, r.plan) == (Basis.PLAN_RATE, "op")
    assert r.device_hour == q12(Decimal(100000) * DEVICE_P["H800"] / 8760)
    commit = PricePlan("k", "t2", PlanKind.COMMIT, T0, commit_meter=Meter.DEVICE_SECONDS, commit_model="L20",
                       commit_quantity=Decimal(10), commit_price=Decimal("1.9"))
    r = quote_rate([commit], BOOK, "t2", "o9", "L20", "sz", at, None)
    assert (r.device_hour, r.basis) == (Decimal("1.9"), Basis.COMMIT_PRICE)


def test_unquotable_tiered_rate_or_no_list_price() -> None:
    tiered = PricePlan("tp", "t1", PlanKind.PAYG, T0, rates=(Rate(
        Meter.DEVICE_SECONDS, Decimal(5), "L20", "device_hour", (Tier(Decimal(10), Decimal(5)), Tier(None, Decimal(4)))),))
    with pytest.raises(Unquotable, match="tiers"):
        quote_rate([tiered], BOOK, "t1", "o1", "L20", "sz", T0, None)
    with pytest.raises(Unquotable, match="no list price for A800"):
        quote_rate([], BOOK, "t1", "o1", "A800", "sz", T0, DEVICE_P["A800"])


def test_which_leases_are_bound() -> None:
    assert binds(T0, T0 + timedelta(hours=1), T0)  # fixed term
    assert binds(T0 + timedelta(days=1), None, T0)  # reservation, even open-ended
    assert not binds(T0, None, T0)  # open-ended from now: follows the list


def test_rate_segments_first_covers_before_its_start() -> None:
    segs = ((T0 + timedelta(hours=1), Decimal(1), "a"), (T0 + timedelta(hours=5), Decimal(2), "b"))
    assert rate_at(segs, T0) == (1, "a") and rate_at(segs, T0 + timedelta(hours=4, minutes=59)) == (1, "a")
    assert rate_at(segs, T0 + timedelta(hours=5)) == (2, "b")


def _lease(start: datetime, end: datetime, allocs: list[tuple[str, str, str, int]]) -> Lease:
    """(model, site, node, milli) per device."""
    return Lease("ls_1", "ord_1", "t1", ProductForm.GPU, LeaseState.ENDED, start, end, start, end, "", Decimal("0.15"),
                 "", start, tuple(Allocation(i, node, i, model, site, "s1", "f", milli, 0, start, end)
                                  for i, (model, site, node, milli) in enumerate(allocs)))


placements = st.lists(st.tuples(st.sampled_from([("H800", "sh"), ("L20", "sz")]), st.sampled_from(["n1", "n2"]),
                                st.sampled_from([1000, 1000, 500, 125])), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(placements, st.integers(0, 20 * 86400), st.integers(1, 9 * 86400),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999"), places=2),
       st.sampled_from([Decimal(0), Decimal("0.17"), Decimal("0.5")]), st.booleans())
def test_term_total_is_what_the_invoice_charges(placed: list[tuple[tuple[str, str], str, int]], offset: int,
                                                secs: int, h800: Decimal, l20: Decimal, later: Decimal,
                                                discount: Decimal, from_sums: bool) -> None:
    """A fixed-term lease inside one month, any devices, prices and term: the quote's term total is
    the sum of the lease's rated lines, to the cent, although the list price changes mid-term."""
    start = T0 + timedelta(seconds=offset)
    end = min(start + timedelta(seconds=secs), T1)
    change = start + timedelta(seconds=int((end - start).total_seconds()) // 3)
    prices = book(("H800", None, PriceUnit.P_YEAR, str(h800), OLD), ("L20", None, PriceUnit.DEVICE_HOUR, str(l20), OLD),
                  ("H800", None, PriceUnit.P_YEAR, str(later), change),
                  ("L20", None, PriceUnit.DEVICE_HOUR, str(later / 1000), change))
    plans = [PricePlan("c", "t1", PlanKind.PAYG, OLD, discount=discount)] if discount else []
    # one node holds one model here (a node is one model in a fleet)
    allocs = [(mk[0], mk[1], f"{node}-{mk[0]}", milli) for mk, node, milli in placed]
    lease = _lease(start, end, allocs)
    rates = [quote_rate(plans, prices, "t1", "ord_1", m, s, start, DEVICE_P[m], valid_from=start)
             for m, s in sorted({(a[0], a[1]) for a in allocs})]
    held = holdings([(a.model, a.site, a.supplier, a.node, a.share) for a in lease.allocations])
    quote = build_quote(Pricing.QUOTED, rates, held, start, end, DEVICE_P, "CNY")
    records = lease_records(lease, [(start, end)], T0, T1, prices.instants())
    bound = lease_rates([("ls_1", r) for r in rates])
    inp = RatingInput("t1", T0, T1, records, plans, prices, DEVICE_P, lease_rates=bound)
    if from_sums:
        inp.sums, inp.records = summarise(records, cuts("t1", T0, T1, plans, prices, {})), []
    rated = rate(inp)
    assert quote.term_total == rated.total
    assert all(x.unit_price in {r.device_hour for r in rates} for x in rated.lines)
    hourly = sum((Decimal(milli) / 1000 * next(r.device_hour for r in rates if (r.model, r.site) == mk)
                  for mk, _n, milli in placed), Decimal(0))
    assert quote.hourly == hourly


def test_extension_quotes_the_added_time_and_sums_agree_with_records() -> None:
    start, old_end, new_end = T0 + timedelta(hours=8), T0 + timedelta(hours=12, seconds=31), T0 + timedelta(hours=15)
    lease = _lease(start, new_end, [("H800", "sh", "n1", 1000), ("H800", "sh", "n2", 1000)])
    first = quote_rate([], BOOK, "t1", "ord_1", "H800", "sh", start, DEVICE_P["H800"], valid_from=start)
    dearer = book(("H800", None, PriceUnit.P_YEAR, "180000", OLD))
    added = quote_rate([], dearer, "t1", "ord_1", "H800", "sh", start + timedelta(hours=2), DEVICE_P["H800"],
                       valid_from=old_end)
    bound = lease_rates([("ls_1", first), ("ls_1", added)])
    starts = [old_end]
    records = lease_records(lease, [(start, new_end)], T0, T1, starts)
    one = rate(RatingInput("t1", T0, T1, records, [], BOOK, DEVICE_P, lease_rates=bound))
    summed = rate(RatingInput("t1", T0, T1, [], [], BOOK, DEVICE_P, lease_rates=bound,
                              sums=summarise(records, cuts("t1", T0, T1, [], BOOK, {}, starts))))
    assert one.lines == summed.lines
    by_price = {x.unit_price: x.quantity for x in one.lines if x.node == "n1"}
    assert by_price == {first.device_hour: Decimal(4 * 3600 + 31) / 3600, added.device_hour: Decimal(2 * 3600 + 59 * 60 + 29) / 3600}
    held = holdings([(a.model, a.site, a.supplier, a.node, a.share) for a in lease.allocations])
    quote = build_quote(Pricing.QUOTED, [first, added], held, start, new_end, DEVICE_P, "CNY")
    assert quote.term_total == one.total
    assert quote.hourly == 2 * added.device_hour  # the cost per hour now: the latest rate


def test_quoted_lease_draws_packages_first_then_pays_its_quote() -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=5)
    lease = _lease(start, end, [("L20", "sz", "n1", 1000), ("L20", "sz", "n1", 1000)])
    q = quote_rate([], BOOK, "t1", "ord_1", "L20", "sz", start, None, valid_from=start)
    dearer = book(("L20", None, PriceUnit.DEVICE_HOUR, "9", OLD))  # the list price rose since the grant
    pkg = Package("p1", "t1", Meter.DEVICE_SECONDS, Decimal(5), T0, T1, model="L20")
    rated = rate(RatingInput("t1", T0, T1, lease_records(lease, [(start, end)], T0, T1), [], dearer, DEVICE_P,
                             packages=[pkg], lease_rates=lease_rates([("ls_1", q)])))
    kinds = {x.kind: x for x in rated.lines if x.kind != "package_fee"}
    assert kinds["package_covered"].quantity == 5 and kinds["package_covered"].amount == 0
    assert kinds["usage"].quantity == 3 and kinds["usage"].unit_price == Decimal("2.35")
    assert kinds["usage"].amount == round_line(3 * Decimal("2.35"))


def test_quoted_lease_counts_toward_a_commitment_at_its_quote() -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=5)
    lease = _lease(start, end, [("L20", "sz", "n1", 1000)])
    q = quote_rate([], BOOK, "t1", "ord_1", "L20", "sz", start, None, valid_from=start)
    commit = PricePlan("k", "t1", PlanKind.COMMIT, start + timedelta(hours=1), commit_meter=Meter.DEVICE_SECONDS,
                       commit_model="L20", commit_quantity=Decimal(100), commit_price=Decimal("1.9"), reservation="ls_r")
    rated = rate(RatingInput("t1", T0, T1, lease_records(lease, [(start, end)], T0, T1), [commit], BOOK, DEVICE_P,
                             lease_rates=lease_rates([("ls_1", q)])))
    usage = [x for x in rated.lines if x.kind == "usage"]
    assert {x.unit_price for x in usage} == {Decimal("2.35")}
    (true_up,) = [x for x in rated.lines if x.kind == "commit_true_up"]
    committed = Decimal(100) * Decimal(int((T1 - commit.effective_from).total_seconds())) / Decimal(30 * 86400)
    assert true_up.quantity == committed - 3  # the 3 device-hours under the commitment count as used


@settings(max_examples=100, deadline=None)
@given(placements, st.integers(0, 29 * 86400), st.integers(1, 40 * 86400),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2))
def test_a_term_across_months_is_invoiced_within_a_cent_per_line_and_boundary(
        placed: list[tuple[tuple[str, str], str, int]], offset: int, secs: int, l20: Decimal) -> None:
    """Invoiced month by month, each line rounded once: the invoices differ from the quoted term
    total by at most 0.01 per (node) line and month boundary, and not at all inside one month."""
    start = T0 + timedelta(seconds=offset)
    end = start + timedelta(seconds=secs)
    prices = book(("L20", None, PriceUnit.DEVICE_HOUR, str(l20), OLD), ("H800", None, PriceUnit.P_YEAR, "90000", OLD))
    allocs = [(mk[0], mk[1], f"{node}-{mk[0]}", milli) for mk, node, milli in placed]
    lease = _lease(start, end, allocs)
    rates = [quote_rate([], prices, "t1", "ord_1", m, s, start, DEVICE_P[m], valid_from=start)
             for m, s in sorted({(a[0], a[1]) for a in allocs})]
    held = holdings([(a.model, a.site, a.supplier, a.node, a.share) for a in lease.allocations])
    quote = build_quote(Pricing.QUOTED, rates, held, start, end, DEVICE_P, "CNY")
    bound = lease_rates([("ls_1", r) for r in rates])
    total, months, a = Decimal("0.00"), 0, T0
    while a < end:
        b = datetime(a.year + a.month // 12, a.month % 12 + 1, 1, tzinfo=UTC)
        total += rate(RatingInput("t1", a, b, lease_records(lease, [(start, end)], a, b), [], prices, DEVICE_P,
                                  lease_rates=bound)).total
        months, a = months + (a < end and b > start), b
    assert quote.term_total is not None
    assert abs(total - quote.term_total) <= Decimal("0.01") * len(held) * (months - 1)

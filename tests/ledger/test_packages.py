"""Package drawdown: scope (meter, model, site, validity), quantities that add up, and rating with site-scoped packages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.ledger.meters import Meter, UsageRecord
from suanli.ledger.packages import Drawdown, Package
from suanli.ledger.rating import RatingInput, rate

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
SITES = ["", "sh-east-1", "nx-west-1"]
MODELS = ["", "L20", "H800"]
CATALOG = {m.name: m for m in builtin_catalog()}
BOOK = PriceBook([PriceEntry(m, None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY", datetime(2020, 1, 1, tzinfo=UTC))
                  for m in ("L20", "H800")], CATALOG)

packages = st.lists(st.builds(
    lambda i, qty, used, site, model, start, days, meter: Package(
        f"p{i}", "t1", meter, Decimal(qty), T0 + timedelta(days=start), T0 + timedelta(days=start + days),
        model=model, site=site, used=min(Decimal(used), Decimal(qty))),
    st.integers(0, 99), st.integers(1, 50), st.integers(0, 60), st.sampled_from(SITES), st.sampled_from(MODELS),
    st.integers(0, 25), st.integers(1, 10), st.sampled_from([Meter.DEVICE_SECONDS, Meter.EGRESS_GB])),
    max_size=8, unique_by=lambda p: p.id)
draws = st.lists(st.tuples(st.sampled_from([Meter.DEVICE_SECONDS, Meter.EGRESS_GB]), st.sampled_from(["L20", "H800"]),
                           st.sampled_from(SITES), st.integers(0, 30 * 86400 - 1), st.integers(0, 40)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(packages, draws)
def test_a_draw_honours_scope_and_never_takes_more_than_is_left(pkgs: list[Package],
                                                                 asks: list[tuple[Meter, str, str, int, int]]) -> None:
    d = Drawdown(pkgs)
    by_id = {p.id: p for p in pkgs}
    for meter, model, site, secs, units in asks:
        at = T0 + timedelta(seconds=secs)
        got = d.draw(meter, model, at, Decimal(units), None, site)
        assert sum((c for _, c in got), Decimal(0)) <= units
        for pid, c in got:
            p = by_id[pid]
            assert c > 0
            assert p.meter is meter and p.model in ("", model) and p.starts_at <= at < p.expires_at
            assert p.site in ("", site), f"package at {p.site!r} drew usage at {site!r}"
    for p in pkgs:
        assert 0 <= d.left[p.id] <= p.quantity - p.used
        assert d.drawn[p.id] == p.quantity - p.used - d.left[p.id]


@settings(max_examples=200, deadline=None)
@given(packages, draws)
def test_usage_is_covered_as_far_as_packages_in_scope_reach(pkgs: list[Package],
                                                            asks: list[tuple[Meter, str, str, int, int]]) -> None:
    """A draw stops short of the ask only when no package in scope has anything left."""
    d = Drawdown(pkgs)
    for meter, model, site, secs, units in asks:
        at = T0 + timedelta(seconds=secs)
        covered = sum((c for _, c in d.draw(meter, model, at, Decimal(units), None, site)), Decimal(0))
        if covered < units:
            assert all(d.left[p.id] == 0 for p in pkgs if p.covers(meter, model, site, at))


def test_a_site_scoped_package_covers_usage_at_its_site_only() -> None:
    pkg = Package("p-sh", "t1", Meter.DEVICE_SECONDS, Decimal(10), T0, T1, model="L20", site="sh-east-1")
    d = Drawdown([pkg])
    at = T0 + timedelta(days=1)
    assert d.draw(Meter.DEVICE_SECONDS, "L20", at, Decimal(4), None, "nx-west-1") == []
    assert d.draw(Meter.DEVICE_SECONDS, "L20", at, Decimal(4), None, "") == []
    assert d.draw(Meter.DEVICE_SECONDS, "L20", at, Decimal(4), None, "sh-east-1") == [("p-sh", Decimal(4))]
    assert d.left["p-sh"] == 6


recs = st.lists(st.builds(
    lambda i, site, secs, hours: UsageRecord("src", f"e{i}", Meter.DEVICE_SECONDS, "t1", T0 + timedelta(seconds=secs),
                                             Decimal(hours * 3600), model="L20", site=site, supplier="s1"),
    st.integers(0, 10**6), st.sampled_from(SITES), st.integers(0, 29 * 86400), st.integers(0, 6)),
    max_size=30, unique_by=lambda r: r.id)


@settings(max_examples=100, deadline=None)
@given(recs, st.integers(1, 40))
def test_rating_draws_a_site_package_only_from_usage_at_its_site(usage: list[UsageRecord], qty: int) -> None:
    pkg = Package("p-sh", "t1", Meter.DEVICE_SECONDS, Decimal(qty), T0, T1, model="L20", site="sh-east-1")
    out = rate(RatingInput("t1", T0, T1, usage, [], BOOK, {k: m.p for k, m in CATALOG.items()}, packages=[pkg]))
    covered = [x for x in out.lines if x.kind == "package_covered"]
    assert all(x.site == "sh-east-1" and x.package == "p-sh" for x in covered)
    at_site = sum((r.quantity for r in usage if r.site == "sh-east-1"), Decimal(0)) / 3600
    assert sum((x.quantity for x in covered), Decimal(0)) == min(at_site, qty)
    assert out.package_draws.get("p-sh", Decimal(0)) == min(at_site, qty)
    billed_elsewhere = sum((x.quantity for x in out.lines if x.kind == "usage" and x.site != "sh-east-1"), Decimal(0))
    assert billed_elsewhere == sum((r.quantity for r in usage if r.site != "sh-east-1"), Decimal(0)) / 3600

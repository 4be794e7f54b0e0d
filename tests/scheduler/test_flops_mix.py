"""The flops mix solver (suanli.scheduler.flops_mix): exact against brute force, never short of p,
never dearer than a single-model cover, and a cut search still keeps those two promises."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduler.flops_mix import Kind, Mix, best_single_model, solve

D = Decimal
MODELS = {"H800": D("0.9894"), "A100": D("0.312"), "L20": D("0.1195"), "4090": D("0.1652"), "910B": D("0.313")}


def brute(kinds: list[Kind], need: Decimal) -> tuple[Decimal, Decimal, Decimal, int] | None:
    best = None
    for xs in itertools.product(*(range(k.count + 1) for k in kinds)):
        m = Mix(tuple((k, x) for k, x in zip(kinds, xs, strict=True) if x))
        if m.p >= need and (best is None or m.key() < best):
            best = m.key()
    return best


kind_st = st.builds(
    lambda model, site, price, energy, count: Kind(model, site, MODELS[model], D(price) / 100, D(energy) / 1000, count),
    st.sampled_from(sorted(MODELS)), st.sampled_from(["a", "b"]), st.integers(0, 2000), st.integers(0, 500),
    st.integers(0, 4))


@settings(max_examples=150, deadline=None)
@given(st.lists(kind_st, min_size=1, max_size=4), st.integers(1, 40))
def test_exact_against_brute_force(kinds: list[Kind], tenths: int) -> None:
    need = D(tenths) / 10
    got, want = solve(kinds, need), brute(kinds, need)
    if want is None:
        assert got is None
        return
    assert got is not None and got.exact
    assert got.p >= need
    assert got.key() == want


@settings(max_examples=100, deadline=None)
@given(st.lists(kind_st, min_size=1, max_size=8), st.integers(1, 200))
def test_never_short_and_never_dearer_than_one_model(kinds: list[Kind], tenths: int) -> None:
    need = D(tenths) / 10
    got = solve(kinds, need)
    single = best_single_model(kinds, need)
    if got is None:
        assert single is None
        return
    assert got.p >= need
    if single is not None:
        assert got.key() <= single.key()
        assert got.price <= single.price
    for k, x in got.take:
        assert 0 < x <= k.count


@settings(max_examples=60, deadline=None)
@given(st.lists(kind_st, min_size=2, max_size=8), st.integers(1, 200), st.integers(1, 5))
def test_a_search_cut_short_keeps_its_promises(kinds: list[Kind], tenths: int, budget: int) -> None:
    need = D(tenths) / 10
    got = solve(kinds, need, max_nodes=budget)
    single = best_single_model(kinds, need)
    if got is None:
        return
    assert got.p >= need
    assert single is None or got.price <= single.price


def test_the_demo_mix_beats_the_greedy_fill() -> None:
    """32×910B is the cheapest P, but filling it whole then topping up costs more than leaving one out."""
    per_year = D(8760)
    kinds = [Kind("Ascend-910B", "nx-west-1", D("0.313"), D(60000) * D("0.313") / per_year, D("0.1"), 32),
             Kind("H800", "sh-east-1", D("0.9894"), D(90000) * D("0.9894") / per_year, D("0.2"), 32),
             Kind("RTX-4090", "sz-edge-1", D("0.1652"), D("2.10"), D("0.3"), 24),
             Kind("L20", "sz-edge-1", D("0.1195"), D("2.60"), D("0.2"), 16)]
    got = solve(kinds, D(12))
    assert got is not None and got.exact
    assert [(k.model, x) for k, x in got.take] == [("Ascend-910B", 31), ("H800", 2), ("RTX-4090", 2)]
    assert got.p == D("12.0122")
    greedy = Mix(((kinds[0], 32), (kinds[1], 2), (kinds[2], 1)))
    assert greedy.p >= 12 and got.price < greedy.price
    assert (got.price.quantize(D("0.01")), greedy.price.quantize(D("0.01"))) == (D("90.99"), D("91.03"))
    single = best_single_model(kinds, D(12))
    assert single is not None and [(k.model, x) for k, x in single.take] == [("H800", 13)]


def test_ties_go_to_energy_then_overshoot() -> None:
    cheap_power = Kind("A100", "west", D("0.312"), D("5"), D("0.10"), 8)
    dear_power = Kind("A100", "east", D("0.312"), D("5"), D("0.40"), 8)
    got = solve([dear_power, cheap_power], D("1.2"))
    assert got is not None and [(k.site, x) for k, x in got.take] == [("west", 4)]
    # same price and energy per device: the smaller overshoot wins
    a = Kind("x", "s", D("1.0"), D("10"), D("0"), 2)
    b = Kind("y", "s", D("0.8"), D("10"), D("0"), 4)
    got = solve([a, b], D("0.7"))
    assert got is not None and [(k.model, x) for k, x in got.take] == [("y", 1)]


def test_too_little_and_bad_input() -> None:
    assert solve([Kind("x", "s", D("1"), D("1"), D("0"), 2)], D("2.01")) is None
    with pytest.raises(ValueError):
        solve([Kind("x", "s", D("1"), D("1"), D("0"), 2)], D(0))
    with pytest.raises(ValueError):
        solve([Kind("x", "s", D("-1"), D("1"), D("0"), 2)], D(1))


def test_large_fleet_is_fast_and_exact() -> None:
    kinds = [Kind(m, s, p, D(price) / 100, D(e) / 100, 400) for (m, p), s, price, e in
             zip(itertools.cycle(MODELS.items()), [f"s{i}" for i in range(40)], range(100, 4100, 100),
                 itertools.cycle([3, 7, 11]), strict=False)]
    got = solve(kinds, D("1234.5"))
    assert got is not None and got.exact and got.p >= D("1234.5")


def test_many_sites_at_one_price_search_as_one() -> None:
    """150 sites selling the same models at the same prices: interchangeable kinds are merged, so the
    search stays exact within a small budget, and the devices go to the sites in the order given."""
    kinds = [Kind(m, f"site-{c:03d}", p, D(price), D("0.2"), 8)
             for c in range(150) for m, p, price in (("910B", MODELS["910B"], "2.1438"), ("H800", MODELS["H800"], "10.1651"),
                                                      ("4090", MODELS["4090"], "2.10"))]
    got = solve(kinds, D(60), max_nodes=500)
    assert got is not None and got.exact and got.p >= 60
    sites_910b = [k.site for k, _ in got.take if k.model == "910B"]
    assert sites_910b == sorted(sites_910b) and sites_910b[0] == "site-000"
    single = best_single_model(kinds, D(60))
    assert single is not None and got.price <= single.price

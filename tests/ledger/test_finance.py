"""The finance core: a hand-computed example (also in docs/economics.md) and properties."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal as D
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.ledger.finance import (
    IRR_TOLERANCE,
    Financing,
    Investment,
    Operations,
    annuity_payment,
    appraise,
    breakeven_lease_rate,
    breakeven_price,
    cash_flows,
    irr,
    npv,
    payback,
    sensitivity,
)

# The worked example of docs/economics.md: capex 1,000,000, residual 100,000, 5 years, opex
# 50,000/yr, no debt, discount 8 %; revenue 400,000/yr, 20 % to suppliers, energy 30,000/yr.
INV = Investment(D(1_000_000), D(100_000), 5, D(50_000), Financing(), D("0.08"))
OPS = Operations(D(400_000), D("0.2"), D(30_000))


def test_hand_computed_example() -> None:
    a = appraise(INV, OPS)
    assert a.depreciation == D(180_000)                      # (1,000,000 − 100,000) / 5
    assert [f.operating for f in a.flows] == [D(240_000)] * 5  # 0.8 × 400,000 − 30,000 − 50,000
    assert a.flows[-1].equity == D(340_000)                   # + residual at the end of year 5
    # 4 years bring 960,000; the 40,000 left takes 40,000 / 240,000 of year 5.
    assert a.payback_years is not None and round(a.payback_years, 4) == D("4.1667")
    # NPV = −1,000,000 + 240,000 × 3.992710 + 100,000 / 1.08^5 = 26,308.73
    assert round(a.npv, 2) == D("26308.73")
    assert a.irr is not None and round(a.irr, 4) == D("0.0895")
    # R* = −NPV(R = 0) / (0.8 × 3.992710) = 1,251,358.48 / 3.194168 = 391,763.51
    assert a.breakeven_revenue is not None and round(a.breakeven_revenue, 2) == D("391763.51")
    # 10 P leased 50 % of the time: R* / (10 × 0.5) per P-year; at 80,000 per P-year: R* / 800,000.
    assert round(breakeven_price(a.breakeven_revenue, D(10), D("0.5")) or 0, 2) == D("78352.70")
    assert round(breakeven_lease_rate(a.breakeven_revenue, D(10), D(80_000)) or 0, 4) == D("0.4897")
    assert a.curve[0] == D(-1_000_000) and a.curve[12] == D(-760_000) and a.curve[-1] == D(300_000)
    assert len(a.curve) == 61


def test_financing_annuity_and_schedule() -> None:
    inv = replace(INV, financing=Financing(D("0.6"), D("0.05"), 4))
    a = appraise(inv, OPS)
    assert a.debt == D(600_000) and a.equity_outlay == D(400_000)
    assert round(a.annuity, 2) == D("169207.10")   # 600,000 × 0.05 / (1 − 1.05^−4)
    assert a.flows[0].interest == D(30_000)           # 5 % of 600,000
    assert sum(f.principal for f in a.flows) == D(600_000)
    assert a.flows[4].interest == 0 and a.flows[4].principal == 0
    assert annuity_payment(D(1200), D(0), 12) == D(100)


def test_no_sign_change_has_no_irr_and_no_payback() -> None:
    poor = Operations(D(10_000), D(0), D(30_000))  # every year loses 70,000
    a = appraise(replace(INV, residual=D(0)), poor)
    assert a.irr is None and a.payback_years is None and a.npv < 0


def test_sensitivity_has_the_standard_declines_and_the_operators() -> None:
    rows = sensitivity(INV, replace(OPS, price_decline=D("0.07")))
    assert [r.price_decline for r in rows] == [D(0), D("0.05"), D("0.07"), D("0.10"), D("0.15"), D("0.20")]
    assert all(a.npv > b.npv for a, b in pairwise(rows))
    assert rows[0].npv == appraise(INV, OPS).npv


money = st.integers(min_value=0, max_value=10**8).map(D)
rate = st.integers(min_value=0, max_value=100).map(lambda x: D(x) / 100)
invs = st.builds(
    lambda capex, res_pct, life, opex, share, r, term, disc: Investment(
        capex, (capex * res_pct).quantize(D("0.01")), life, opex,
        Financing(share, r, min(term, life) if share > 0 else 0), disc),
    st.integers(min_value=1, max_value=10**8).map(D), st.integers(0, 50).map(lambda x: D(x) / 100),
    st.integers(1, 10), money, rate, rate, st.integers(1, 10), st.integers(0, 30).map(lambda x: D(x) / 100))
opss = st.builds(Operations, money, st.integers(0, 90).map(lambda x: D(x) / 100), money,
                 st.integers(0, 30).map(lambda x: D(x) / 100))


@settings(max_examples=60, deadline=None)
@given(invs, opss)
def test_npv_at_irr_is_zero(inv: Investment, ops: Operations) -> None:
    cf0, flows = cash_flows(inv, ops)
    eq = [f.equity for f in flows]
    r = irr(cf0, eq)
    if r is not None:
        # the NPV changes sign within the bisection's tolerance around the IRR ...
        lo, hi = npv(r - 2 * IRR_TOLERANCE, cf0, eq), npv(r + 2 * IRR_TOLERANCE, cf0, eq)
        assert lo == 0 or hi == 0 or (lo > 0) != (hi > 0)
        if r >= 0:  # ... and where the NPV is not steep, it is ~0 relative to the flows
            scale = abs(cf0) + sum(abs(x) for x in eq)
            assert abs(npv(r, cf0, eq)) <= scale * D("1e-7")


@settings(max_examples=60, deadline=None)
@given(invs, opss)
def test_breakeven_revenue_gives_npv_zero(inv: Investment, ops: Operations) -> None:
    a = appraise(inv, ops)
    if a.breakeven_revenue is not None and a.breakeven_revenue > 0:
        at = appraise(inv, replace(ops, revenue=a.breakeven_revenue))
        assert abs(at.npv) <= (inv.capex + inv.opex + ops.energy + 1) * D("1e-12")


@settings(max_examples=60, deadline=None)
@given(invs, opss, money)
def test_payback_falls_and_npv_rises_with_price(inv: Investment, ops: Operations, more: D) -> None:
    lo, hi = appraise(inv, ops), appraise(inv, replace(ops, revenue=ops.revenue + more))
    assert hi.npv >= lo.npv
    if lo.payback_years is not None:
        assert hi.payback_years is not None and hi.payback_years <= lo.payback_years


@settings(max_examples=60, deadline=None)
@given(invs, opss)
def test_curve_ends_at_the_total_and_crosses_zero_at_payback(inv: Investment, ops: Operations) -> None:
    a = appraise(inv, ops)
    cf0, flows = cash_flows(inv, ops)
    assert a.curve[-1] == (cf0 + sum(f.equity for f in flows)).quantize(D("0.01"))
    assert sum(f.principal for f in flows) == inv.financing.debt_share * inv.capex or \
        abs(sum(f.principal for f in flows) - inv.financing.debt_share * inv.capex) < D("1e-12")
    pb = payback(cf0, flows)
    if pb is not None and pb > 0:
        after = math.ceil(pb * 12)  # the first month end at or after the payback
        assert a.curve[after - 1] <= D("0.01")  # still not paid back a month before
        assert a.curve[after] >= D("-0.01")

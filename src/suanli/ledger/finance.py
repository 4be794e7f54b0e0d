"""Investment appraisal of a group of nodes (a site, a model, a supplier, one node): pure, Decimal.

Everything here is a function of its arguments (no clock, no I/O). Amounts are in the operator's
currency; rates are fractions (0.045 = 4.5 %); years are whole years. The formulas are the
textbook ones (Brealey, Myers & Allen, *Principles of Corporate Finance*, ch. 2, 5 and 6:
present value, NPV, IRR, payback; annuity payment from the ordinary-annuity present value).

**Inputs** (:class:`Investment`): ``capex`` paid at year 0, ``residual`` value received at the end
of the life, ``life_years`` (n), fixed ``opex`` per year, :class:`Financing` (debt share ``s``,
interest rate ``r``, loan term ``m`` <= n years) and the discount rate ``i``. **Operations**
(:class:`Operations`): the yearly revenue run-rate ``R`` (tenant charges), the supplier share of
it ``σ`` (a fraction of revenue: what the suppliers are paid), the yearly energy cost ``E`` and
the expected yearly price decline ``d``.

**Depreciation** (straight line): ``(capex − residual) / n`` per year.

**Financing**: debt ``D = s × capex``, repaid as an annuity over m years::

    A = D × r / (1 − (1 + r)^−m)        (A = D / m when r = 0)

year k's interest is ``r × balance_{k−1}``, its principal ``A − interest_k``.

**Cash flows** (year k = 1..n; revenue falls by d a year: ``R_k = R × (1 − d)^(k−1)``)::

    operating cash flow  OCF_k = (1 − σ) × R_k − E − opex
    equity cash flow     CF_0  = −(1 − s) × capex
                         CF_k  = OCF_k − A × [k <= m]  (+ residual at the end of year n)

Payback, IRR, NPV and the payback curve all use the **equity cash flow** (what the owner puts in
and takes out after paying the lender); with no debt (s = 0, the default) it is the project's
cash flow. Taxes are not modelled.

* **NPV** at the discount rate: ``Σ_{k=0..n} CF_k / (1 + i)^k``.
* **IRR**: the rate where NPV = 0, found by bisection on the Decimal NPV between −99 % and
  +1,000 % until the bracket is narrower than :data:`IRR_TOLERANCE` (10⁻⁹); ``None`` when the NPV
  has the same sign at both ends (no sign change: e.g. the flows never pay back, or no equity
  is put in).
* **Payback** (undiscounted, fractional years): a year's flow accrues evenly through the year and
  the residual at its end, so with ``C_{k−1}`` the cumulative cash before year k, the payback is
  ``(k − 1) + (−C_{k−1}) / (CF_k − residual [k = n])`` in the first year k where the cumulative
  cash reaches 0; ``None`` ("not within the life") when it never does.
* **Break-even**: NPV is linear in R: ``NPV(R) = a × R + b`` with
  ``a = (1 − σ) × Σ_k (1 − d)^(k−1) / (1 + i)^k`` and ``b = NPV(0)``; the break-even revenue is
  ``R* = −b / a``. With the group's compute ``P`` (PFLOPS) and its lease rate ``L`` (rented ÷
  available device-hours) and revenue ``R = price × P × L``: the **break-even price**
  (元/P/年) is ``R* / (P × L)`` and the **break-even lease rate** is ``R* / (price × P)``
  at the realised price. Energy is held at its run-rate (it does not scale with the lease rate).
* **Sensitivity**: payback and NPV for yearly price declines of 0, 5, 10, 15, 20 % and the
  operator's own setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

IRR_TOLERANCE = Decimal("1e-9")
"""Bisection stops when the bracket around the IRR is narrower than this (a rate, 10⁻⁹)."""
IRR_LOW = Decimal("-0.99")
IRR_HIGH = Decimal("10")
SENSITIVITY_DECLINES: tuple[Decimal, ...] = tuple(Decimal(x) for x in ("0", "0.05", "0.10", "0.15", "0.20"))
"""The yearly price declines of the sensitivity table (the operator's setting is added)."""
ZERO = Decimal(0)
ONE = Decimal(1)
MONTHS = 12


@dataclass(frozen=True)
class Financing:
    debt_share: Decimal = ZERO
    """Share of capex paid with a loan, 0..1."""
    interest_rate: Decimal = ZERO
    """Yearly interest rate of the loan, 0..1 (0.045 = 4.5 %)."""
    loan_years: int = 0
    """Years over which the loan is repaid as an annuity, 0..life (0 only with no debt)."""


@dataclass(frozen=True)
class Investment:
    capex: Decimal
    """Purchase price paid at year 0, >= 0."""
    residual: Decimal
    """Value received at the end of the life, 0..capex."""
    life_years: int
    """Years of service, >= 1."""
    opex: Decimal = ZERO
    """Fixed operating cost per year (staff, racks, bandwidth, other), >= 0."""
    financing: Financing = Financing()
    discount_rate: Decimal = ZERO
    """Yearly rate NPV discounts at, 0..1."""


@dataclass(frozen=True)
class Operations:
    revenue: Decimal
    """Revenue run-rate per year (tenant charges), >= 0."""
    supplier_share: Decimal = ZERO
    """Fraction of revenue paid to suppliers, 0..1."""
    energy: Decimal = ZERO
    """Energy cost per year."""
    price_decline: Decimal = ZERO
    """Expected yearly fall of prices (and so of revenue), 0..1."""


@dataclass(frozen=True)
class YearFlow:
    year: int
    revenue: Decimal
    operating: Decimal
    """OCF: (1 − σ) × revenue − energy − opex."""
    interest: Decimal
    principal: Decimal
    residual: Decimal
    equity: Decimal
    """CF_k = OCF − interest − principal + residual."""


@dataclass(frozen=True)
class Sensitivity:
    price_decline: Decimal
    payback_years: Decimal | None
    npv: Decimal
    irr: Decimal | None


@dataclass(frozen=True)
class Appraisal:
    depreciation: Decimal
    """Per year, straight line."""
    debt: Decimal
    annuity: Decimal
    """Yearly loan payment (interest + principal) during the loan term."""
    interest_total: Decimal
    equity_outlay: Decimal
    """−CF_0: the owner's own money at year 0."""
    flows: tuple[YearFlow, ...]
    npv: Decimal
    irr: Decimal | None
    payback_years: Decimal | None
    """None: not within the life."""
    breakeven_revenue: Decimal | None
    """Yearly revenue (first year) at which NPV = 0; None when revenue cannot change the NPV."""
    curve: tuple[Decimal, ...]
    """Cumulative equity cash at the end of each month 0..12n (month 0 = −equity outlay)."""


def depreciation(inv: Investment) -> Decimal:
    """Straight-line depreciation per year: (capex − residual) / life."""
    return (inv.capex - inv.residual) / inv.life_years


def annuity_payment(debt: Decimal, rate: Decimal, years: int) -> Decimal:
    """The yearly payment that repays ``debt`` over ``years`` at ``rate``: D r / (1 − (1 + r)^−m)."""
    if debt == 0 or years == 0:
        return ZERO
    if rate == 0:
        return debt / years
    return debt * rate / (ONE - (ONE + rate) ** -years)


def loan_schedule(inv: Investment) -> list[tuple[Decimal, Decimal]]:
    """(interest, principal) of each year 1..life (zeros after the loan term)."""
    f = inv.financing
    debt = f.debt_share * inv.capex
    pay = annuity_payment(debt, f.interest_rate, f.loan_years)
    balance = debt
    out: list[tuple[Decimal, Decimal]] = []
    for k in range(1, inv.life_years + 1):
        if k <= f.loan_years and debt > 0:
            interest = balance * f.interest_rate
            principal = balance if k == f.loan_years else pay - interest
            balance -= principal
            out.append((interest, principal))
        else:
            out.append((ZERO, ZERO))
    return out


def cash_flows(inv: Investment, ops: Operations) -> tuple[Decimal, tuple[YearFlow, ...]]:
    """(CF_0, the flows of years 1..n) of the equity cash flow (see the module docstring)."""
    cf0 = -(ONE - inv.financing.debt_share) * inv.capex
    flows: list[YearFlow] = []
    for k, (interest, principal) in enumerate(loan_schedule(inv), start=1):
        revenue = ops.revenue * (ONE - ops.price_decline) ** (k - 1)
        operating = (ONE - ops.supplier_share) * revenue - ops.energy - inv.opex
        residual = inv.residual if k == inv.life_years else ZERO
        flows.append(YearFlow(k, revenue, operating, interest, principal, residual,
                              operating - interest - principal + residual))
    return cf0, tuple(flows)


def npv(rate: Decimal, cf0: Decimal, flows: Sequence[Decimal]) -> Decimal:
    """Σ_{k=0..n} CF_k / (1 + rate)^k."""
    total = cf0
    factor = ONE
    base = ONE + rate
    for cf in flows:
        factor *= base
        total += cf / factor
    return total


def irr(cf0: Decimal, flows: Sequence[Decimal]) -> Decimal | None:
    """The rate in [−99 %, 1,000 %] where NPV = 0 by bisection (bracket < :data:`IRR_TOLERANCE`),
    rounded to 10⁻⁹; None when NPV has the same sign at both ends of the range."""
    lo, hi = IRR_LOW, IRR_HIGH
    f_lo, f_hi = npv(lo, cf0, flows), npv(hi, cf0, flows)
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if (f_lo > 0) == (f_hi > 0):
        return None
    while hi - lo > IRR_TOLERANCE:
        mid = (lo + hi) / 2
        f_mid = npv(mid, cf0, flows)
        if f_mid == 0:
            return mid.quantize(IRR_TOLERANCE)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return ((lo + hi) / 2).quantize(IRR_TOLERANCE)


def payback(cf0: Decimal, flows: Sequence[YearFlow]) -> Decimal | None:
    """Fractional years until the cumulative equity cash reaches 0 (flows accrue evenly through a
    year, the residual at its end); 0 when nothing is put in; None when not within the life."""
    cum = cf0
    if cum >= 0:
        return ZERO
    for f in flows:
        even = f.equity - f.residual
        if even > 0 and cum + even >= 0:
            return Decimal(f.year - 1) + (-cum) / even
        cum += f.equity
        if cum >= 0:
            return Decimal(f.year)
    return None


def curve(cf0: Decimal, flows: Sequence[YearFlow]) -> tuple[Decimal, ...]:
    """Cumulative equity cash at the end of each month 0..12n, to the cent (month 0 = CF_0)."""
    cent = Decimal("0.01")
    out = [cf0.quantize(cent)]
    cum = cf0
    for f in flows:
        even = f.equity - f.residual
        for m in range(1, MONTHS + 1):
            now = cum + even * m / MONTHS + (f.residual if m == MONTHS else ZERO)
            out.append(now.quantize(cent))
        cum += f.equity
    return tuple(out)


def breakeven_revenue(inv: Investment, ops: Operations) -> Decimal | None:
    """The first-year revenue at which NPV = 0 (NPV is linear in revenue: R* = −NPV(0) / a); 0 when
    the NPV is >= 0 without any revenue; None when revenue does not move the NPV (σ = 1)."""
    base = replace(ops, revenue=ZERO)
    cf0, flows = cash_flows(inv, base)
    b = npv(inv.discount_rate, cf0, [f.equity for f in flows])
    a = ZERO
    factor = ONE
    for k in range(1, inv.life_years + 1):
        factor *= ONE + inv.discount_rate
        a += (ONE - ops.price_decline) ** (k - 1) / factor
    a *= ONE - ops.supplier_share
    if a <= 0:
        return None
    return max(ZERO, -b / a)


def breakeven_price(revenue: Decimal | None, p: Decimal, lease_rate: Decimal) -> Decimal | None:
    """Price per P per year at which the group's revenue is ``revenue``: R* / (P × L); None
    without compute or without any rented time."""
    if revenue is None or p <= 0 or lease_rate <= 0:
        return None
    return revenue / (p * lease_rate)


def breakeven_lease_rate(revenue: Decimal | None, p: Decimal, price: Decimal) -> Decimal | None:
    """Lease rate at which the group's revenue is ``revenue`` at ``price`` per P-year: R* / (price × P);
    None without compute or without a price."""
    if revenue is None or p <= 0 or price <= 0:
        return None
    return revenue / (price * p)


def appraise(inv: Investment, ops: Operations) -> Appraisal:
    """The whole appraisal of one group (see the module docstring for each figure)."""
    cf0, flows = cash_flows(inv, ops)
    equity = [f.equity for f in flows]
    debt = inv.financing.debt_share * inv.capex
    return Appraisal(
        depreciation=depreciation(inv), debt=debt,
        annuity=annuity_payment(debt, inv.financing.interest_rate, inv.financing.loan_years),
        interest_total=sum((f.interest for f in flows), ZERO), equity_outlay=-cf0, flows=flows,
        npv=npv(inv.discount_rate, cf0, equity), irr=irr(cf0, equity), payback_years=payback(cf0, flows),
        breakeven_revenue=breakeven_revenue(inv, ops), curve=curve(cf0, flows))


def sensitivity(inv: Investment, ops: Operations) -> tuple[Sensitivity, ...]:
    """Payback, NPV and IRR for each yearly price decline of :data:`SENSITIVITY_DECLINES` and
    the operator's own ``ops.price_decline`` (sorted, without repeats)."""
    out = []
    for d in sorted(set(SENSITIVITY_DECLINES) | {ops.price_decline}):
        cf0, flows = cash_flows(inv, replace(ops, price_decline=d))
        equity = [f.equity for f in flows]
        out.append(Sensitivity(d, payback(cf0, flows), npv(inv.discount_rate, cf0, equity), irr(cf0, equity)))
    return tuple(out)

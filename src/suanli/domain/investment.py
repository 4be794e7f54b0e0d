"""Investment inputs the operator enters (migration 0023): capex per node, fixed opex per site and
the global appraisal settings, and the one validator of each (a field named, what is allowed).

Rates are fractions (0.045 = 4.5 %); amounts are in the operator's currency. The appraisal itself
is :mod:`suanli.ledger.finance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from suanli.domain.money import check_amount, to_decimal
from suanli.errors import ValidationError

MAX_LIFE_YEARS = 30
DEFAULT_LIFE_YEARS = 5
OPEX_FIELDS = ("staff", "racks", "bandwidth", "other")
"""A site's fixed opex per year, by kind (staff, racks/colocation, bandwidth, other)."""


@dataclass(frozen=True)
class NodeCapex:
    node: str
    capex: Decimal
    """Purchase price, >= 0."""
    purchased_on: date
    residual: Decimal = Decimal(0)
    """Value at the end of the life, 0..capex."""
    currency: str = "CNY"


@dataclass(frozen=True)
class SiteOpex:
    site: str
    staff: Decimal = Decimal(0)
    racks: Decimal = Decimal(0)
    bandwidth: Decimal = Decimal(0)
    other: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.staff + self.racks + self.bandwidth + self.other


@dataclass(frozen=True)
class InvestmentSettings:
    life_years: int = DEFAULT_LIFE_YEARS
    """1..30."""
    debt_share: Decimal = Decimal(0)
    """0..1."""
    interest_rate: Decimal = Decimal(0)
    """Per year, 0..1 (0 %..100 %)."""
    loan_years: int = 0
    """0..life_years; at least 1 when debt_share > 0."""
    discount_rate: Decimal = Decimal("0.08")
    """Per year, 0..1."""
    price_decline: Decimal = Decimal(0)
    """Expected yearly fall of prices, 0..1."""


def _fraction(value: object, field: str, what: str) -> Decimal:
    d = to_decimal(value, field=field)
    if d == 0:
        d = Decimal(0)  # not -0
    if not Decimal(0) <= d <= Decimal(1):
        raise ValidationError(f"{field} must be between 0 and 1 ({what}), got {value}", field=field)
    if d != d.quantize(Decimal("0.000001")):
        raise ValidationError(f"{field} has more than 6 decimal places: {value}", field=field)
    return d


def _years(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"{field} must be a whole number of years from {low} to {high}, got {value!r}", field=field)
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise ValidationError(f"{field} must be a whole number of years from {low} to {high}, got {value!r}",
                              field=field)
    n = int(text)
    if not low <= n <= high:
        raise ValidationError(f"{field} must be a whole number of years from {low} to {high}, got {n}", field=field)
    return n


def check_settings(raw: Mapping[str, Any], base: InvestmentSettings) -> InvestmentSettings:
    """``base`` with the fields of ``raw`` changed, each checked; unknown fields are refused."""
    known = set(InvestmentSettings.__dataclass_fields__)
    extra = sorted(set(raw) - known)
    if extra:
        raise ValidationError(f"unknown field {extra[0]!r}; allowed: {', '.join(sorted(known))}", field=extra[0])
    life = _years(raw.get("life_years", base.life_years), "life_years", 1, MAX_LIFE_YEARS)
    debt = _fraction(raw.get("debt_share", base.debt_share), "debt_share", "the share of capex borrowed, 0.6 = 60 %")
    rate = _fraction(raw.get("interest_rate", base.interest_rate), "interest_rate",
                     "0 % to 100 % a year, 0.045 = 4.5 %")
    loan = _years(raw.get("loan_years", base.loan_years), "loan_years", 0, life)
    if debt > 0 and loan == 0:
        raise ValidationError(f"loan_years must be from 1 to life_years ({life}) when debt_share is above 0",
                              field="loan_years")
    disc = _fraction(raw.get("discount_rate", base.discount_rate), "discount_rate", "0 % to 100 % a year")
    decline = _fraction(raw.get("price_decline", base.price_decline), "price_decline",
                        "the expected yearly fall of prices, 0.1 = 10 %")
    return InvestmentSettings(life, debt, rate, loan, disc, decline)


def check_opex(site: str, raw: Mapping[str, Any]) -> SiteOpex:
    extra = sorted(set(raw) - {*OPEX_FIELDS, "site"})
    if extra:
        raise ValidationError(f"unknown field {extra[0]!r}; allowed: {', '.join(OPEX_FIELDS)}", field=extra[0])
    vals = {f: check_amount(raw.get(f, 0), f, allow_zero=True, places=2) + 0 for f in OPEX_FIELDS}  # + 0: no -0
    return SiteOpex(site, **vals)


def parse_date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a date YYYY-MM-DD, got {value!r}", field=field)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"{field} must be a date YYYY-MM-DD, got {value!r}", field=field) from None


def check_capex(node: str, raw: Mapping[str, Any], currency: str, *, where: str = "") -> NodeCapex:
    """One node's capex entry: ``capex`` >= 0, ``residual`` 0..capex, ``purchased_on`` a date;
    the currency, when named, must be the operator's."""
    extra = sorted(set(raw) - {"node", "capex", "residual", "purchased_on", "currency"})
    if extra:
        raise ValidationError(f"{where}unknown field {extra[0]!r}; allowed: capex, residual, purchased_on, currency",
                              field=extra[0])
    if "capex" not in raw:
        raise ValidationError(f"{where}capex is required (the node's purchase price, >= 0)", field="capex")
    capex = check_amount(raw["capex"], "capex", allow_zero=True, places=2) + 0  # + 0: no -0
    residual = check_amount(raw.get("residual", 0), "residual", allow_zero=True, places=2) + 0
    if residual > capex:
        raise ValidationError(f"{where}residual ({residual}) must not exceed capex ({capex})", field="residual")
    if "purchased_on" not in raw:
        raise ValidationError(f"{where}purchased_on is required (YYYY-MM-DD)", field="purchased_on")
    day = parse_date(raw["purchased_on"], "purchased_on")
    cur = str(raw.get("currency") or currency)
    if cur != currency:
        raise ValidationError(f"{where}currency must be the operator's ({currency}), got {cur!r}", field="currency")
    return NodeCapex(node, capex, day, residual, currency)

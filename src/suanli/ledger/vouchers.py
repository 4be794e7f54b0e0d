"""Compute vouchers (算力券): the rules of the trade, and the presets of real schemes.

A voucher is issued by a named issuer (e.g. a city) to one tenant under a **scheme** (a preset
rule set, :data:`SCHEMES`). It pays ``percent`` of each eligible charge line, up to ``cap`` in
total, for charges whose usage lies in ``[valid_from, valid_to)``. Every (line, voucher) pair is
decided by the first rule that refuses it, in this order (rule ids in :data:`RULE_TEXT`):

1. ``already_subsidised`` — a line takes at most one voucher (the store enforces it too:
   ``voucher_uses.line_id`` is UNIQUE);
2. ``not_paid_contract`` — only usage lines whose price the tenant's **paid contract** (a price
   plan with ``paid: true``) sets: its own rates or its device discount. Never list-price buys
   (no contract), the default plan's token/storage/egress prices bought beside a contract, fees
   (term in advance, packages) or take-or-pay true-ups;
3. ``related_party`` — buyer and supplier are registered related parties;
4. ``outside_validity`` — the line's usage starts outside the voucher's dates;
5. the scheme's own rules: ``rent_only`` (Shanghai: device or node rental only),
   ``not_claimed`` (Beijing: the line's contract is not the one claimed), ``no_contract_facts``,
   ``signed_too_early``, ``term_too_long``, ``other_subsidy`` (Beijing), ``supplier_not_approved``
   (Beijing: the line's supplier is not on the scheme's approved list);
6. the caps, each a hard bound on the amount: ``cap_reached`` (the voucher's cap),
   ``contract_share_reached`` (Beijing, Shenzhen: ``percent`` x the contract's value over all the
   uses of the scheme's vouchers on that contract), ``firm_annual_cap_reached`` (Beijing ¥2,000,000, Shenzhen ¥10,000,000: all
   the firm's vouchers of the scheme in one calendar year).

A use pays ``min(round_line(line x percent), what every cap has left)`` and records the rule that
set its amount: ``percent_of_line`` or the binding ``capped_by_*``. Vouchers are consumed before
credits and wallet cash.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.money import round_line
from suanli.errors import ValidationError
from suanli.ledger import postings as acct
from suanli.ledger.meters import Meter
from suanli.ledger.plans import PricePlan

ZERO = Decimal("0.00")
RENT_METERS = frozenset({"device_seconds", "node_seconds"})
"""What Shanghai's scheme calls rent: device and node rental time."""


class Scheme(StrEnum):
    CUSTOM = "custom"
    BEIJING = "beijing"
    SHANGHAI = "shanghai"
    SHENZHEN = "shenzhen"


@dataclass(frozen=True)
class SchemeRules:
    """One scheme's rule set. ``None`` means the scheme has no such bound."""

    scheme: Scheme
    title: str
    max_percent: Decimal
    startup_percent: Decimal | None = None
    """A higher bound for a tenant the operator marked a start-up (Shenzhen)."""
    firm_annual_cap: Decimal | None = None
    """Per firm (tenant) per calendar year, over all its vouchers of the scheme."""
    of_contract: bool = False
    """``percent`` also bounds the total paid on one contract: percent x the contract's value."""
    rent_only: bool = False
    claim_required: bool = False
    """Claim against a contract first, then redeem with an issued invoice and delivery evidence."""
    signed_on_or_after: date | None = None
    max_term_months: int | None = None
    approved_suppliers: bool = False
    no_other_subsidy: bool = False

    def percent_limit(self, startup: bool) -> Decimal:
        return self.startup_percent if startup and self.startup_percent is not None else self.max_percent


SCHEMES: dict[Scheme, SchemeRules] = {
    Scheme.CUSTOM: SchemeRules(Scheme.CUSTOM, "custom: the operator's percent and cap", Decimal(1)),
    Scheme.BEIJING: SchemeRules(
        Scheme.BEIJING, "Beijing: <= 20% of the contract, <= 2,000,000 per firm per year, one claim per "
        "contract signed on or after 2023-09-01 with a term <= 1 year, approved unaffiliated supplier, "
        "claim then redeem with invoice and delivery evidence, no other municipal subsidy",
        Decimal("0.20"), firm_annual_cap=Decimal(2_000_000), of_contract=True, claim_required=True,
        signed_on_or_after=date(2023, 9, 1), max_term_months=12, approved_suppliers=True, no_other_subsidy=True),
    Scheme.SHANGHAI: SchemeRules(Scheme.SHANGHAI, "Shanghai: up to 30% of rent (device and node rental)",
                                 Decimal("0.30"), rent_only=True),
    Scheme.SHENZHEN: SchemeRules(
        Scheme.SHENZHEN, "Shenzhen: up to 50% of a contract (60% for a start-up), <= 10,000,000 per firm per year",
        Decimal("0.50"), startup_percent=Decimal("0.60"), firm_annual_cap=Decimal(10_000_000), of_contract=True),
}


def parse_scheme(value: str) -> Scheme:
    try:
        return Scheme(value)
    except ValueError:
        raise ValidationError(f"unknown voucher scheme {value!r}; allowed: {', '.join(s.value for s in Scheme)}",
                              field="scheme", allowed=[s.value for s in Scheme]) from None


def check_issue(scheme: Scheme, percent: Decimal, cap: Decimal, *, startup: bool) -> None:
    """What the scheme allows a voucher to promise; a refusal names the rule (422)."""
    rules = SCHEMES[scheme]
    limit = rules.percent_limit(startup)
    if percent > limit:
        who = " for a start-up" if startup and rules.startup_percent is not None else ""
        extra = (f" ({rules.startup_percent} for a start-up the operator marked so)"
                 if rules.startup_percent is not None and not startup else "")
        raise ValidationError(f"rule {scheme.value}.max_percent: a {scheme.value} voucher pays at most {limit}"
                              f"{who}{extra}, got {percent}", field="percent", rule=f"{scheme.value}.max_percent",
                              allowed_max=str(limit))
    if rules.firm_annual_cap is not None and cap > rules.firm_annual_cap:
        raise ValidationError(f"rule {scheme.value}.firm_annual_cap: a {scheme.value} voucher's cap is at most "
                              f"{rules.firm_annual_cap:,} (per firm per calendar year), got {cap}", field="cap",
                              rule=f"{scheme.value}.firm_annual_cap", allowed_max=str(rules.firm_annual_cap))


@dataclass(frozen=True)
class Voucher:
    id: str
    issuer: str
    tenant: str
    percent: Decimal
    """Fraction of an eligible line paid by the voucher (0.3 = 30 %)."""
    cap: Decimal
    valid_from: datetime
    valid_to: datetime
    used: Decimal = Decimal(0)
    scheme: Scheme = Scheme.CUSTOM

    def __post_init__(self) -> None:
        if not Decimal(0) < self.percent <= 1:
            raise ValidationError(f"voucher percent must be a fraction in (0, 1], got {self.percent}", field="percent")
        if self.cap <= 0:
            raise ValidationError(f"voucher cap must be > 0, got {self.cap}", field="cap")
        if self.valid_to <= self.valid_from:
            raise ValidationError("voucher valid_to must be after valid_from", field="valid_to")

    @property
    def left(self) -> Decimal:
        return self.cap - self.used

    @property
    def rules(self) -> SchemeRules:
        return SCHEMES[self.scheme]


@dataclass(frozen=True)
class Contract:
    """What a voucher needs to know about a paid contract (a price plan with ``paid: true``)."""

    id: str
    """The plan's id."""
    signed_on: date
    value: Decimal
    """The contract's total value (what the tenant committed to pay), in the currency."""
    term_start: datetime
    term_end: datetime | None
    """The plan's effective dates; an open-ended plan has no term bound."""
    other_subsidy: str = ""
    """Another municipal subsidy on this contract, as the operator recorded it ('' = none)."""

    def term_within(self, months: int) -> bool:
        if self.term_end is None:
            return False
        y, m = divmod(self.term_start.month - 1 + months, 12)
        year, month = self.term_start.year + y, m + 1
        limit = self.term_start.replace(year=year, month=month,
                                        day=min(self.term_start.day, calendar.monthrange(year, month)[1]))
        return self.term_end <= limit


def priced_by_contract(plan: PricePlan | None, meter: Meter, model: str) -> bool:
    """Whether a usage line's price is the paid contract's own: its rate for the meter (and model),
    or, for device time, the list price less the contract's discount. The default plan's prices
    (tokens, storage, egress ...) bought beside a contract are list-price buys."""
    return bool(plan and plan.paid and (meter is Meter.DEVICE_SECONDS or plan.rate_for(meter, model) is not None))


def redemption_entry(tenant: str, invoice_id: str, at: datetime, uses: Sequence[VoucherUse],
                     currency: str = "CNY") -> acct.Entry | None:
    """A redemption after the invoice was issued leaves the invoice as issued: the issuer pays the
    tenant's wallet (``voucher:<issuer> +amount / wallet:<tenant> -amount``). Its ref is the invoice,
    so voiding the invoice reverses it with the rest."""
    legs: list[tuple[str, Decimal]] = []
    for u in uses:
        legs += [(acct.voucher_issuer(u.issuer), u.amount), (acct.wallet(tenant), -u.amount)]
    return acct.entry("voucher", invoice_id, at, legs, f"voucher redeemed on invoice {invoice_id}", currency)


@dataclass(frozen=True)
class Chargeable:
    """What the voucher rules need to know about one invoice line."""

    line_no: int
    amount: Decimal
    supplier: str
    at: datetime
    paid_contract: bool
    subsidised: bool = False
    meter: str = ""
    contract: str = ""
    """The plan that priced the line ('' for none)."""


@dataclass(frozen=True)
class VoucherContext:
    """What the caps and scheme rules need besides the lines (the service loads it)."""

    related: frozenset[str] = frozenset()
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    approved: Mapping[Scheme, frozenset[str]] = field(default_factory=dict)
    """Approved suppliers per scheme."""
    claims: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Voucher id -> the contracts it is claimed against (claim-required schemes)."""
    contract_used: Mapping[tuple[Scheme, str], Decimal] = field(default_factory=dict)
    """(scheme, contract) -> already paid on that contract by the tenant's vouchers of that scheme
    (live invoices): a contract's share is the scheme's, however many vouchers pay it."""
    firm_used: Mapping[Scheme, Decimal] = field(default_factory=dict)
    """Scheme -> already paid to this tenant by vouchers of that scheme in this calendar year."""
    redeeming: bool = False
    """Claim-required vouchers pay only when redeemed against an issued invoice."""
    claimed: Mapping[str, Scheme] = field(default_factory=dict)
    """Contract -> the scheme of the voucher claimed against it (one claim per contract): a scheme
    that forbids another subsidy on its contract (Beijing) keeps every other scheme off it."""


@dataclass(frozen=True)
class VoucherUse:
    voucher_id: str
    issuer: str
    line_no: int
    amount: Decimal
    rule: str = "percent_of_line"
    """What set the amount: ``percent_of_line`` or the binding ``capped_by_*`` rule."""


@dataclass(frozen=True)
class Refusal:
    voucher_id: str
    line_no: int
    rule: str
    """A key of :data:`RULE_TEXT`."""


def _scheme_refusal(v: Voucher, line: Chargeable, ctx: VoucherContext) -> str:
    r = v.rules
    holder = ctx.claimed.get(line.contract)
    if holder is not None and holder is not v.scheme and SCHEMES[holder].no_other_subsidy:
        return "other_subsidy"
    if r.rent_only and line.meter not in RENT_METERS:
        return "rent_only"
    if r.claim_required and (not ctx.redeeming or line.contract not in ctx.claims.get(v.id, frozenset())):
        return "not_claimed"
    c = ctx.contracts.get(line.contract)
    if (r.of_contract or r.signed_on_or_after or r.max_term_months or r.no_other_subsidy) and c is None:
        return "no_contract_facts"
    if c is not None:
        if r.signed_on_or_after is not None and c.signed_on < r.signed_on_or_after:
            return "signed_too_early"
        if r.max_term_months is not None and not c.term_within(r.max_term_months):
            return "term_too_long"
        if r.no_other_subsidy and (c.other_subsidy or any(
                sc is not v.scheme and cid == c.id and paid > 0 for (sc, cid), paid in ctx.contract_used.items())):
            return "other_subsidy"
    if r.approved_suppliers and line.supplier not in ctx.approved.get(v.scheme, frozenset()):
        return "supplier_not_approved"
    return ""


def apply_vouchers(vouchers: Sequence[Voucher], lines: Iterable[Chargeable], related: set[str] | frozenset[str],
                   currency: str = "CNY", ctx: VoucherContext | None = None
                   ) -> tuple[list[VoucherUse], list[Refusal]]:
    """Apply vouchers to lines (vouchers in order of expiry, lines in order); at most one voucher per line."""
    ctx = ctx or VoucherContext()
    related = set(related) | set(ctx.related)
    order = sorted(vouchers, key=lambda v: (v.valid_to, v.id))
    left = {v.id: v.left for v in order}
    on_contract: dict[tuple[Scheme, str], Decimal] = dict(ctx.contract_used)
    firm: dict[Scheme, Decimal] = dict(ctx.firm_used)
    uses: list[VoucherUse] = []
    refusals: list[Refusal] = []
    for line in lines:
        if line.amount <= 0:
            continue
        taken = line.subsidised
        for v in order:
            rule = ""
            if taken:
                rule = "already_subsidised"
            elif not line.paid_contract:
                rule = "not_paid_contract"
            elif line.supplier and line.supplier in related:
                rule = "related_party"
            elif not v.valid_from <= line.at < v.valid_to:
                rule = "outside_validity"
            else:
                rule = _scheme_refusal(v, line, ctx)
            rooms: list[tuple[Decimal, str, str]] = []
            if not rule:
                rooms.append((left[v.id], "cap_reached", "capped_by_voucher"))
                c = ctx.contracts.get(line.contract)
                if v.rules.of_contract and c is not None:
                    rooms.append((round_line(c.value * v.percent, currency) - on_contract.get((v.scheme, c.id), ZERO),
                                  "contract_share_reached", "capped_by_contract_share"))
                if v.rules.firm_annual_cap is not None:
                    rooms.append((v.rules.firm_annual_cap - firm.get(v.scheme, ZERO), "firm_annual_cap_reached",
                                  "capped_by_firm_annual_cap"))
                for room, refused, _ in rooms:
                    if room <= 0:
                        rule = refused
                        break
            if rule:
                refusals.append(Refusal(v.id, line.line_no, rule))
                continue
            amount, why = round_line(line.amount * v.percent, currency), "percent_of_line"
            for room, _, capped in rooms:
                if room < amount:
                    amount, why = room, capped
            if amount <= 0:  # its share rounds to nothing: the line stays free for another voucher
                refusals.append(Refusal(v.id, line.line_no, "rounds_to_zero"))
                continue
            left[v.id] -= amount
            if v.rules.of_contract and line.contract in ctx.contracts:
                on_contract[(v.scheme, line.contract)] = on_contract.get((v.scheme, line.contract), ZERO) + amount
            firm[v.scheme] = firm.get(v.scheme, ZERO) + amount
            uses.append(VoucherUse(v.id, v.issuer, line.line_no, amount, why))
            taken = True
    return uses, refusals


RULE_TEXT = {
    "percent_of_line": "allowed: the voucher's percent of the line (no cap reached)",
    "capped_by_voucher": "allowed, capped by what is left of the voucher's cap",
    "capped_by_contract_share": "allowed, capped by the scheme's share of the contract's value (percent x value)",
    "capped_by_firm_annual_cap": "allowed, capped by the scheme's cap per firm per calendar year",
    "not_paid_contract": "vouchers pay only charges priced by a paid contract (a price plan marked paid): "
                         "never list-price buys, default-plan prices, fees or true-ups",
    "related_party": "the buyer and the supplier are related parties; vouchers never pay related-party deals",
    "already_subsidised": "the charge already has a subsidy; no double subsidy",
    "outside_validity": "the charge lies outside the voucher's validity dates",
    "cap_reached": "the voucher's cap is used up",
    "rounds_to_zero": "the voucher's share of the line rounds to 0.00",
    "rent_only": "this scheme pays only rent: device or node rental time",
    "not_claimed": "this scheme pays only lines of the contract the voucher is claimed against, when redeemed "
                   "with an issued invoice and delivery evidence",
    "no_contract_facts": "the line's contract has no recorded facts (signed date, value); record them first",
    "signed_too_early": "the contract was signed before the scheme's start date (2023-09-01)",
    "term_too_long": "the contract's term is longer than the scheme allows (1 year) or open-ended",
    "other_subsidy": "the contract already has another municipal subsidy (recorded, or another scheme's voucher "
                     "paid or claimed it), and a scheme on it forbids that",
    "supplier_not_approved": "the line's supplier is not on the scheme's approved supplier list",
    "contract_share_reached": "the scheme's share of the contract's value is used up",
    "firm_annual_cap_reached": "the firm's cap for this scheme and calendar year is used up",
}

"""Compute vouchers (算力券) and the rules of the trade.

A voucher is issued by a named issuer (e.g. a city) to one tenant. It pays ``percent`` of each
eligible charge line, up to ``cap`` in total, for charges whose usage lies in
``[valid_from, valid_to)``. A line is eligible only when:

1. it is charged under a **paid contract** (a price plan marked paid) — never list-price spot buys,
   fees or true-ups;
2. buyer and supplier are **not related parties** (a registered relation between the tenant and
   the line's supplier);
3. it has **no other subsidy** (a line takes at most one voucher; the store enforces it with a
   unique key on the line);
4. the voucher is within its validity and has cap left.

Vouchers are consumed before credits and wallet cash. Each use records the line, the amount
and the rule outcome, for the audit export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import round_line
from suanli.errors import ValidationError


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


@dataclass(frozen=True)
class Chargeable:
    """What the voucher rules need to know about one invoice line."""

    line_no: int
    amount: Decimal
    supplier: str
    at: datetime
    paid_contract: bool
    subsidised: bool = False


@dataclass(frozen=True)
class VoucherUse:
    voucher_id: str
    issuer: str
    line_no: int
    amount: Decimal


@dataclass(frozen=True)
class Refusal:
    voucher_id: str
    line_no: int
    rule: str
    """``not_paid_contract``, ``related_party``, ``already_subsidised``, ``outside_validity``, ``cap_reached``."""


def apply_vouchers(vouchers: Sequence[Voucher], lines: Iterable[Chargeable], related: set[str],
                   currency: str = "CNY") -> tuple[list[VoucherUse], list[Refusal]]:
    """Apply vouchers to lines (vouchers in order of expiry, lines in order); at most one voucher per line."""
    order = sorted(vouchers, key=lambda v: (v.valid_to, v.id))
    left = {v.id: v.left for v in order}
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
            elif left[v.id] <= 0:
                rule = "cap_reached"
            if rule:
                refusals.append(Refusal(v.id, line.line_no, rule))
                continue
            amount = min(round_line(line.amount * v.percent, currency), left[v.id])
            left[v.id] -= amount
            uses.append(VoucherUse(v.id, v.issuer, line.line_no, amount))
            taken = True
    return uses, refusals


RULE_TEXT = {
    "not_paid_contract": "vouchers pay only charges under a paid contract (a price plan marked paid)",
    "related_party": "the buyer and the supplier are related parties; vouchers never pay related-party deals",
    "already_subsidised": "the charge already has a subsidy; no double subsidy",
    "outside_validity": "the charge lies outside the voucher's validity dates",
    "cap_reached": "the voucher's cap is used up",
}

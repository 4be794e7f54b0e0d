"""Double-entry postings: every entry sums to zero; balances are folds over postings.

Sign convention: a posting's amount is **debit positive, credit negative**. Accounts are strings
``kind:owner`` (owner empty for the platform's own accounts):

=========================  =========================================================
``receivable:<tenant>``    what a tenant owes (debit balance)
``wallet:<tenant>``        a tenant's prepaid cash (credit balance: we owe it)
``credit:<tenant>``        operator-granted credits/coupons not yet used (credit balance)
``voucher:<issuer>``       what a voucher issuer (e.g. a city) owes for vouchers used (debit)
``payable:<supplier>``     what the platform owes a supplier (credit balance)
``revenue:operator``       the operator's commission and fees (credit balance)
``promotions:operator``    credits granted by the operator (expense, debit balance)
``tax:output``             tax collected (credit balance), when a tax rate is configured
``cash:bank``              money received and paid out (debit balance)
=========================  =========================================================

Entries are append-only: a correction is a new entry (a reversal, a credit note), never an edit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import MINOR_UNIT
from suanli.errors import ValidationError

ZERO = Decimal("0.00")


def receivable(tenant: str) -> str:
    return f"receivable:{tenant}"


def wallet(tenant: str) -> str:
    return f"wallet:{tenant}"


def credit(tenant: str) -> str:
    return f"credit:{tenant}"


def voucher_issuer(issuer: str) -> str:
    return f"voucher:{issuer}"


def payable(supplier: str) -> str:
    return f"payable:{supplier}"


REVENUE = "revenue:operator"
PROMOTIONS = "promotions:operator"
TAX = "tax:output"
CASH = "cash:bank"


@dataclass(frozen=True)
class Posting:
    account: str
    amount: Decimal
    """Debit positive, credit negative; in the currency's minor unit (already rounded)."""


@dataclass(frozen=True)
class Entry:
    """One balanced journal entry. ``kind`` names the business event; ``ref`` what it is about."""

    kind: str
    ref: str
    at: datetime
    postings: tuple[Posting, ...]
    memo: str = ""
    currency: str = "CNY"

    def __post_init__(self) -> None:
        unit = MINOR_UNIT[self.currency]
        if len(self.postings) < 2:
            raise ValidationError(f"a ledger entry needs at least two postings ({self.kind} {self.ref})")
        for p in self.postings:
            if p.amount != p.amount.quantize(unit):
                raise ValidationError(f"posting {p.account} {p.amount} is not in whole {unit} {self.currency}")
        total = sum((p.amount for p in self.postings), ZERO)
        if total != 0:
            raise ValidationError(f"ledger entry {self.kind} {self.ref} does not balance: postings sum to {total}")


def entry(kind: str, ref: str, at: datetime, legs: Iterable[tuple[str, Decimal]], memo: str = "",
          currency: str = "CNY") -> Entry | None:
    """Build an entry from (account, amount) legs, merging legs of one account and dropping zeros.
    Returns ``None`` when nothing is left (an entry of zeros records nothing)."""
    merged: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for account, amount in legs:
        merged[account] += amount
    postings = tuple(Posting(a, v) for a, v in sorted(merged.items()) if v != 0)
    if not postings:
        return None
    return Entry(kind, ref, at, postings, memo, currency)


def balances(entries: Iterable[Entry]) -> dict[str, Decimal]:
    """Balance of every account: the fold (sum) of its postings, debit positive."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for e in entries:
        for p in e.postings:
            out[p.account] += p.amount
    return dict(out)


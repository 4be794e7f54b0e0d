"""Supplier payouts: money the operator transferred to a supplier against what it is owed.

A payout is a record (date paid, amount, the bank transfer's reference, the months it covers,
an idempotency key) and one ledger entry (``payable:<supplier> +amount / cash -amount``). It
never exceeds what is owed (the ``payable`` balance: the supplier's share of issued invoices,
less SLA credits it bore and earlier payouts); a retry with the same key records nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    supplier: str
    amount: Decimal
    """In the currency's minor unit, > 0."""
    currency: str
    paid_on: date
    """The day the transfer was made (the operator's calendar)."""
    reference: str
    """The bank transfer's id (流水号), as the operator's bank gave it; may be empty."""
    periods: tuple[str, ...]
    """The months (YYYY-MM) it pays for, as the operator says; may be empty."""
    idempotency_key: str
    recorded_at: datetime
    recorded_by: str

    def same_request(self, amount: Decimal, paid_on: date, reference: str, periods: tuple[str, ...]) -> bool:
        """Whether a retry with this payout's key asks for the same payout."""
        return (self.amount, self.paid_on, self.reference, self.periods) == (amount, paid_on, reference, periods)

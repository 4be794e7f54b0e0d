"""Wallets and the low-balance runway rule.

A tenant's wallet balance is the fold of its wallet postings (credit balance: what the platform
holds for it). The rule, with ``burn`` the hourly cost of the tenant's running pay-as-you-go
leases and ``accrued`` what they have cost since the last invoice::

    runway hours = (balance - accrued) / burn
    warn     when runway < warn_hours
    suspend  when runway < suspend_hours      (pay-as-you-go leases are suspended)
    resume   when a suspended tenant's runway is back at or above warn_hours

Paying an issued invoice from the wallet (:func:`wallet_payment`) is one entry
``wallet +amount / receivable -amount``: the wallet's balance goes down by what was owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.money import round_line
from suanli.errors import ValidationError
from suanli.ledger import postings as acct
from suanli.ledger.postings import Entry, entry

DEFAULT_WARN_HOURS = Decimal(24)
DEFAULT_SUSPEND_HOURS = Decimal(1)


class Standing(StrEnum):
    OK = "ok"
    WARN = "warn"
    SUSPEND = "suspend"


@dataclass(frozen=True)
class RunwayPolicy:
    warn_hours: Decimal = DEFAULT_WARN_HOURS
    suspend_hours: Decimal = DEFAULT_SUSPEND_HOURS

    def __post_init__(self) -> None:
        if self.suspend_hours < 0 or self.warn_hours < self.suspend_hours:
            raise ValidationError("runway hours must satisfy 0 <= suspend_hours <= warn_hours",
                                  field="suspend_hours")


@dataclass(frozen=True)
class Runway:
    balance: Decimal
    accrued: Decimal
    burn_per_hour: Decimal
    hours: Decimal | None
    """None when nothing is burning (infinite runway)."""
    standing: Standing


def runway(balance: Decimal, accrued: Decimal, burn_per_hour: Decimal, policy: RunwayPolicy) -> Runway:
    if burn_per_hour <= 0:
        return Runway(balance, accrued, burn_per_hour, None, Standing.OK)
    hours = (balance - accrued) / burn_per_hour
    standing = (Standing.SUSPEND if hours < policy.suspend_hours
                else Standing.WARN if hours < policy.warn_hours else Standing.OK)
    return Runway(balance, accrued, burn_per_hour, hours, standing)


def wallet_payment(tenant: str, invoice_id: str, at: datetime, amount: Decimal, currency: str = "CNY") -> Entry:
    """The tenant pays what is outstanding on an issued invoice from its wallet balance (prepaid cash):
    ``wallet +amount / receivable -amount`` (the wallet, a credit balance, goes down by ``amount``)."""
    if amount <= 0 or amount != round_line(amount, currency):
        raise ValidationError(f"payment amount must be > 0 in whole cents, got {amount}", field="amount")
    e = entry("wallet_payment", invoice_id, at, [(acct.wallet(tenant), amount), (acct.receivable(tenant), -amount)],
              f"invoice {invoice_id} paid from the wallet", currency)
    assert e is not None
    return e

"""SLA credits on the ledger: who bears the credit a tenant gets for time lost to a node failure.

The engine records an SLA credit when a node failure interrupts a lease (``service/health.py``):
``max(lost seconds, minimum) x the lease's hourly price``, rounded once. It reaches the money as
one balanced entry, posted once (the database keys it by the credit's id)::

    credit:<tenant>      -amount          the tenant's credit balance, spent on its next invoice
    payable:<supplier>   +supplier part   each supplier whose device failed bears its revenue share
    revenue:operator     +the rest        the operator bears its commission's part

The amount is split over the lost allocations by their list value (share x hourly list price at
the interruption), per (supplier, node), largest remainder to the cent. Of each part the supplier
bears ``round_line((1 - commission rate) x part)`` — its revenue share of that time, its floor
notwithstanding (a failure of its device is not time sold) — and the operator the rest. With no
lost allocation to charge (no list price, a reservation that never ran) the operator bears it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import MINOR_UNIT, round_line
from suanli.errors import ValidationError
from suanli.ledger import postings as acct
from suanli.ledger.postings import Entry, entry

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SlaPart:
    supplier: str
    node: str
    amount: Decimal
    """This node's part of the credit (sums to the credit over the parts)."""
    supplier_share: Decimal
    """What the supplier bears of it; the operator bears ``amount - supplier_share``."""


def split_credit(amount: Decimal, weights: Sequence[tuple[str, str, Decimal]], commission_rate: Decimal,
                 currency: str = "CNY") -> list[SlaPart]:
    """Split a credit over (supplier, node, weight) by weight, to the cent (largest remainder)."""
    if amount != round_line(amount, currency) or amount < 0:
        raise ValidationError(f"an SLA credit must be >= 0 in whole cents, got {amount}", field="amount")
    merged: dict[tuple[str, str], Decimal] = {}
    for supplier, node, w in weights:
        if w > 0:
            merged[(supplier, node)] = merged.get((supplier, node), Decimal(0)) + w
    total_w = sum(merged.values(), Decimal(0))
    if amount == 0 or total_w == 0:
        return []
    unit = MINOR_UNIT[currency]
    exact = {k: amount * w / total_w for k, w in merged.items()}
    floors = {k: (v // unit) * unit for k, v in exact.items()}
    left = int((amount - sum(floors.values(), ZERO)) / unit)
    for k in sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))[:left]:
        floors[k] += unit
    return [SlaPart(sup, node, floors[(sup, node)],
                    round_line((1 - commission_rate) * floors[(sup, node)], currency))
            for sup, node in sorted(floors) if floors[(sup, node)] != 0]


def sla_entry(tenant: str, ref: str, at: datetime, amount: Decimal, parts: Sequence[SlaPart], memo: str,
              currency: str = "CNY") -> Entry:
    """The balanced entry that puts an SLA credit on the tenant's credit balance."""
    if amount <= 0:
        raise ValidationError(f"an SLA credit to post must be > 0, got {amount}", field="amount")
    legs: list[tuple[str, Decimal]] = [(acct.credit(tenant), -amount)]
    suppliers = ZERO
    for x in parts:
        legs.append((acct.payable(x.supplier), x.supplier_share))
        suppliers += x.supplier_share
    legs.append((acct.REVENUE, amount - suppliers))
    e = entry("sla_credit", ref, at, legs, memo, currency)
    assert e is not None
    return e

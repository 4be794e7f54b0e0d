"""A term's fee pays for the device-seconds its reservation holds, never for capacity it lost.

A term plan (包月/包年) bills each term period's fee in advance. What the fee pays for is the
**device-seconds the plan's reservation holds** inside the period (and before the plan's end):
the reservation's allocations ``(start, end, share)``, each device counted for the seconds it is
held. A plan ended early, or a reservation whose node failed and that could not be re-placed for a
while, holds fewer device-seconds than ``devices x period``; the fee is for what it holds.

One rounding rule (:func:`fee_for`): ``amount = round_line(device_seconds x hourly / 3,600)``,
rounded once. The same rule prices the draft's ``term_fee`` line and the target of every credit
note of a fee already issued (:func:`credit_due`): ``credit = billed - fee_for(held) - credited``,
so that, at every instant, ``fee billed - credits = fee_for(device-seconds held)`` to the cent.

A take-or-pay (``commit``) that holds capacity commits ``commit_quantity`` per period only for
the time its reservation held the devices: the plan's seconds in the period become
``held_device_seconds / commit_devices`` (:mod:`suanli.ledger.rating`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import SECONDS_PER_HOUR, round_line

ZERO = Decimal(0)

HeldSpan = tuple[datetime, datetime | None, Decimal]
"""One device (or fraction) a reservation holds: from ``start`` to ``end`` (None: open-ended),
``share`` of the device (1 for a whole device)."""


FEE_REF_PREFIX = "term_fee:"
"""The ``ref`` of every credit note of a term fee starts so (:func:`fee_ref`)."""


def fee_ref(plan_id: str, period_start: datetime) -> str:
    """The ``ref`` of every credit note of one term fee line: how the notes of one fee are found
    (never by their reason, which an operator's manual note could repeat)."""
    return f"{FEE_REF_PREFIX}{plan_id}:{period_start.isoformat()}"


def held_device_seconds(spans: Sequence[HeldSpan], start: datetime, end: datetime) -> Decimal:
    """Device-seconds the spans hold inside ``[start, end)``: share x whole seconds of overlap."""
    total = ZERO
    for a, b, share in spans:
        hi = end if b is None else min(b, end)
        lo = max(a, start)
        if hi > lo:
            total += share * int((hi - lo).total_seconds())
    return total


def fee_for(device_seconds: Decimal, hourly: Decimal, currency: str = "CNY") -> Decimal:
    """The fee for ``device_seconds`` at ``hourly`` per device-hour, rounded once."""
    return round_line(device_seconds * hourly / SECONDS_PER_HOUR, currency)


def credit_due(billed: Decimal, held_fee: Decimal, credited: Decimal) -> Decimal:
    """What a credit note gives back of a fee ``billed`` on an issued invoice: the part of it not
    held (``held_fee`` = :func:`fee_for` the device-seconds held) less what earlier notes gave back;
    never negative (a fee is never raised after it was issued)."""
    return max(ZERO, billed - held_fee - credited)


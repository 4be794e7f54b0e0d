"""Revenue share: every device charge splits into the supplier's share and the operator's commission.

    supplier share = round_line(min(amount, max((1 - commission rate) x amount, floor x device-hours)))
    commission     = amount - supplier share

So the supplier receives at least its floor price for the time sold (as long as the charge
covers it), and the two parts always add up to the charge exactly. Charges with no supplier
(tokens, storage, egress, fees) are the operator's in full.
"""

from __future__ import annotations

from decimal import Decimal

from suanli.domain.money import round_line


def split(amount: Decimal, commission_rate: Decimal, floor_per_hour: Decimal | None, device_hours: Decimal,
          currency: str = "CNY") -> tuple[Decimal, Decimal]:
    """(supplier share, commission) of one rounded charge line."""
    share = (1 - commission_rate) * amount
    if floor_per_hour is not None:
        share = max(share, floor_per_hour * device_hours)
    share = round_line(min(share, amount), currency)
    return share, amount - share

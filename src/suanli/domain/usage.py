"""Usage as the store returns it for rating: events one by one (:class:`UsageRecord`,
:func:`suanli.store.usage.events_for`) and summed (:class:`UsageSum`, :func:`suanli.store.usage.usage_sums`).

A domain type, so that the store returns it without importing the ledger; the ledger rates it
(:func:`suanli.ledger.rating.rate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.meters import Meter


@dataclass(frozen=True)
class UsageRecord:
    """One validated usage event. ``quantity`` is in the meter's unit (share already applied)."""

    source: str
    id: str
    meter: Meter
    subject: str
    time: datetime
    quantity: Decimal
    model: str = ""
    site: str = ""
    supplier: str = ""
    node: str = ""
    lease: str = ""
    order: str = ""
    payload_hash: str = ""


@dataclass(frozen=True, slots=True)
class UsageSum:
    """Usage records that rate alike, summed: one meter and the same dimensions, with times in
    one month and one span between two consecutive cuts (:func:`suanli.ledger.rating.cuts`; so the
    same plan, list price, kind and interruption apply to each of them); records of quantity zero
    are summed apart."""

    meter: Meter
    model: str
    site: str
    supplier: str
    node: str
    lease: str
    order: str
    quantity: Decimal
    """The exact sum of the records' quantities, in the meter's own unit."""
    records: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """A tenant's usage of one meter and model over a span: the exact sum and how many events."""

    tenant: str
    meter: str
    model: str
    quantity: Decimal
    events: int

"""Lease price quotes (``lease_quotes``): written at a grant or an extension, never updated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from suanli.domain.quotes import Basis, QuotedRate
from suanli.store.money_tables import LeaseQuoteRow
from suanli.store.tables import LeaseRow


@dataclass(frozen=True)
class StoredQuote:
    """The quoted rates of one lease, as stored."""

    lease: str
    binding: bool
    currency: str
    rates: tuple[QuotedRate, ...]


def add_rates(s: Session, lease_id: str, rates: Sequence[QuotedRate], *, binding: bool, currency: str) -> None:
    for r in rates:
        s.add(LeaseQuoteRow(lease_id=lease_id, model=r.model, site=r.site, valid_from=r.valid_from,
                            device_hour=r.device_hour, list_device_hour=r.list_device_hour, plan_id=r.plan,
                            basis=r.basis.value, binding=binding, currency=currency, quoted_at=r.quoted_at))
    s.flush()


def _rate(r: LeaseQuoteRow) -> QuotedRate:
    return QuotedRate(r.model, r.site, r.valid_from, r.device_hour, r.list_device_hour, r.plan_id, Basis(r.basis),
                      r.quoted_at)


def quotes_for(s: Session, lease_ids: Sequence[str], *, binding_only: bool = False) -> dict[str, StoredQuote]:
    """The stored quote of each lease that has one."""
    if not lease_ids:
        return {}
    q = select(LeaseQuoteRow).where(LeaseQuoteRow.lease_id.in_(list(lease_ids)))
    if binding_only:
        q = q.where(LeaseQuoteRow.binding.is_(True))
    rows = list(s.scalars(q.order_by(LeaseQuoteRow.lease_id, LeaseQuoteRow.model, LeaseQuoteRow.site,
                                     LeaseQuoteRow.valid_from)))
    out: dict[str, StoredQuote] = {}
    for r in rows:
        prev = out.get(r.lease_id)
        rates = (prev.rates if prev else ()) + (_rate(r),)
        out[r.lease_id] = StoredQuote(r.lease_id, r.binding, r.currency, rates)
    return out


def bound_lease_ids(s: Session, tenant_id: str, start: datetime, end: datetime) -> list[str]:
    """The tenant's leases bound by a quote whose window overlaps [start, end)."""
    q = (select(LeaseQuoteRow.lease_id).distinct().join(LeaseRow, LeaseRow.id == LeaseQuoteRow.lease_id)
         .where(LeaseRow.tenant_id == tenant_id, LeaseQuoteRow.binding.is_(True), LeaseRow.start_at < end,
                or_(LeaseRow.end_at.is_(None), LeaseRow.end_at > start)))
    return sorted(s.scalars(q))

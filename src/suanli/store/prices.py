"""Effective-dated list prices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.domain.prices import PriceEntry, PriceUnit
from suanli.errors import ConflictError
from suanli.store.tables import PriceRow

ALL_SITES = "*"


def add_price(s: Session, entry: PriceEntry, now: datetime) -> None:
    site = entry.site or ALL_SITES
    clash = s.scalar(select(PriceRow).where(
        PriceRow.model == entry.model, PriceRow.site == site, PriceRow.effective_from == entry.effective_from))
    if clash is not None:
        raise ConflictError(
            f"a price for {entry.model} at {site} effective {entry.effective_from.isoformat()} already exists; "
            "prices are effective-dated: add one with a later effective_from",
            model=entry.model, site=site,
        )
    s.add(PriceRow(model=entry.model, site=site, unit=entry.unit.value, amount=entry.amount,
                   currency=entry.currency, effective_from=entry.effective_from, created_at=now))
    s.flush()


def list_prices(s: Session) -> list[PriceEntry]:
    rows = s.scalars(select(PriceRow).order_by(PriceRow.model, PriceRow.site, PriceRow.effective_from))
    return [PriceEntry(r.model, None if r.site == ALL_SITES else r.site, PriceUnit(r.unit), r.amount,
                       r.currency, r.effective_from) for r in rows]

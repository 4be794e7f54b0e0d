"""List prices: set (effective-dated, either unit), list with both units, the price book.

A list price is effective **now or later, never earlier** (:func:`check_effective_from`): a
back-dated price would re-price usage that was already rated. Correcting the past is a separate
operator action (:mod:`suanli.service.price_corrections`) that issues credit or debit notes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.money import check_amount, check_currency
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit, device_hour_price, p_year_price
from suanli.errors import NotFoundError, ValidationError
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store
from suanli.store import price_corrections as correction_store
from suanli.store import prices as store


def price_book(p: Platform, s: Session) -> PriceBook:
    cat = p.catalog(s)
    return PriceBook(store.list_prices(s), {m.name: m for m in cat}, correction_store.list_corrections(s))


def set_price(p: Platform, actor: Principal, model: str, amount: Decimal, unit: str, site: str | None = None,
              effective_from: datetime | None = None, currency: str | None = None) -> dict[str, Any]:
    authorize(actor, Action.SET_PRICE)
    try:
        u = PriceUnit(unit)
    except ValueError:
        raise ValidationError(f"price unit {unit!r} not allowed; allowed: device_hour, p_year", field="unit") from None
    cur = check_currency(currency or p.settings.currency)
    value = check_amount(amount, "amount")
    now = p.clock.now()
    eff = check_effective_from(effective_from, now)
    with p.tx() as s:
        m = p.catalog(s).get(model)
        if site is not None and site not in {x.name for x in fleet_store.list_sites(s)}:
            raise NotFoundError(f"no site {site!r}", site=site)
        entry = PriceEntry(m.name, site, u, value, cur, eff)
        store.add_price(s, entry, now)
    return _row(entry, m)


def check_effective_from(effective_from: datetime | None, now: datetime) -> datetime:
    """When a new list price takes effect: ``now`` when omitted; never before ``now`` (422)."""
    if effective_from is None:
        return now
    if effective_from < now:
        raise ValidationError(
            f"effective_from {effective_from.isoformat()} is in the past (now is {now.isoformat()}); a list price "
            "is effective now or later: omit effective_from for now, or give a later instant. To correct what "
            "was billed in the past, use a price correction (POST /v1/prices/corrections, "
            "`suanli price correct`)", field="effective_from", now=now.isoformat())
    return effective_from


def _row(e: PriceEntry, model: Any) -> dict[str, Any]:
    return {"model": e.model, "site": e.site, "unit": e.unit.value, "amount": e.amount, "currency": e.currency,
            "effective_from": e.effective_from,
            "device_hour": device_hour_price(e.amount, e.unit, model), "p_year": p_year_price(e.amount, e.unit, model)}


def list_prices(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    authorize(actor, Action.READ_PRICES)
    with p.tx() as s:
        cat = p.catalog(s)
        return [_row(e, cat.get(e.model)) for e in store.list_prices(s)]

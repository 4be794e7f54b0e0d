"""List prices: set (effective-dated, either unit), list with both units, the price book."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.money import check_currency
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit, device_hour_price, p_year_price
from suanli.errors import NotFoundError, ValidationError
from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store
from suanli.store import prices as store


def price_book(p: Platform, s: Session) -> PriceBook:
    cat = p.catalog(s)
    return PriceBook(store.list_prices(s), {m.name: m for m in cat})


def set_price(p: Platform, actor: Principal, model: str, amount: Decimal, unit: str, site: str | None = None,
              effective_from: datetime | None = None, currency: str | None = None) -> dict[str, Any]:
    authorize(actor, Action.SET_PRICE)
    try:
        u = PriceUnit(unit)
    except ValueError:
        raise ValidationError(f"price unit {unit!r} not allowed; allowed: device_hour, p_year", field="unit") from None
    cur = check_currency(currency or p.settings.currency)
    now = p.clock.now()
    with p.tx() as s:
        m = p.catalog(s).get(model)
        if site is not None and site not in {x.name for x in fleet_store.list_sites(s)}:
            raise NotFoundError(f"no site {site!r}", site=site)
        entry = PriceEntry(m.name, site, u, amount, cur, effective_from or now)
        store.add_price(s, entry, now)
    return _row(entry, m)


def _row(e: PriceEntry, model: Any) -> dict[str, Any]:
    return {"model": e.model, "site": e.site, "unit": e.unit.value, "amount": e.amount, "currency": e.currency,
            "effective_from": e.effective_from,
            "device_hour": device_hour_price(e.amount, e.unit, model), "p_year": p_year_price(e.amount, e.unit, model)}


def list_prices(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    authorize(actor, Action.READ_PRICES)
    with p.tx() as s:
        cat = p.catalog(s)
        return [_row(e, cat.get(e.model)) for e in store.list_prices(s)]

"""Members' monthly spend limits, enforced inside the transactions that spend (docs/accounts.md).

A member's spend in a calendar month (UTC) is what it committed that month: each order it placed
(not cancelled) commits its quoted cost (:func:`suanli.domain.members.order_commitment`), each
lease extension it made the quoted cost of the added time, and each package it bought its price.
An order, extension or purchase that would take the spend over the member's limit is refused
(409 ``spend_limit``) in the transaction that would record it, with the member's account row
locked first (:func:`lock_spender`), so two concurrent ones of one member cannot both pass;
nothing is written. The organisation's own account and the operator have no limit.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.leases import Lease
from suanli.domain.members import check_spend, month_start, next_month, order_commitment
from suanli.domain.money import minor
from suanli.errors import ValidationError
from suanli.ledger.quotes import Quote
from suanli.service.platform import Platform
from suanli.service.quotes import quote_of
from suanli.store import leases as lease_store
from suanli.store import members as store


def lock_spender(s: Session, actor: Principal) -> Decimal | None:
    """For a member: lock its account row (until the transaction ends) and return its monthly limit;
    ``None`` (nothing locked) for an organisation's own account and the operator."""
    if actor.organisation is None:
        return None
    return store.lock_limit(s, actor.account_id)


def spent(p: Platform, s: Session, account_id: str) -> Decimal:
    """What the member committed in the current calendar month (UTC)."""
    now = p.clock.now()
    return minor(store.spent(s, account_id, month_start(now), next_month(now)), p.settings.currency)


def _refuse_unquoted(actor: Principal, limit: Decimal | None, quote: Quote | None, what: str) -> None:
    if limit is not None and quote is not None and not quote.lines:
        raise ValidationError(f"member {actor.name!r} has a spend limit and the cost of {what} cannot be quoted "
                              f"({quote.note or 'no list price'}); ask the organisation's admin to do it")


def record_order(p: Platform, s: Session, actor: Principal, order_id: str, lease_id: str | None,
                 limit: Decimal | None) -> None:
    """Record who placed the order and, for a member, what it commits; refuse it (409, nothing
    written: the caller's transaction rolls back) if that takes the member over its limit."""
    if actor.organisation is None:
        store.mark_order(s, order_id, actor.account_id, None)
        return
    committed = Decimal(0)
    lease = lease_store.get_lease(s, lease_id) if lease_id else None
    quote = quote_of(p, s, lease) if lease is not None else None
    if lease is not None and quote is not None:
        _refuse_unquoted(actor, limit, quote, "this order")
        committed = order_commitment(quote.hourly, quote.term_total, lease.start, p.settings.currency)
    if committed > 0:
        check_spend(actor.name, limit, spent(p, s, actor.account_id), committed, p.settings.currency, p.clock.now(),
                    f"order {order_id}")
    store.mark_order(s, order_id, actor.account_id, committed)


def quote_before_extension(p: Platform, s: Session, actor: Principal, lease: Lease) -> Quote | None:
    """For a member: the lease's quote before an extension (what the extension's cost is measured from)."""
    return quote_of(p, s, lease) if actor.organisation is not None else None


def record_extension(p: Platform, s: Session, actor: Principal, before: Quote | None, lease_id: str,
                     limit: Decimal | None) -> None:
    """For a member (after the extension is written, in its transaction): the added time's quoted cost
    (the fixed term's total after minus before) is recorded as its spend, or refused over its limit."""
    if actor.organisation is None:
        return
    lease = lease_store.get_lease(s, lease_id)
    after = quote_of(p, s, lease)
    _refuse_unquoted(actor, limit, after, "this extension")
    if after is None or before is None or after.term_total is None or before.term_total is None:
        return
    cost = minor(after.term_total - before.term_total, p.settings.currency)
    if cost <= 0:
        return
    check_spend(actor.name, limit, spent(p, s, actor.account_id), cost, p.settings.currency, p.clock.now(),
                f"extending lease {lease_id}")
    store.add_spend(s, actor.account_id, lease_id, cost, p.clock.now())


def check_purchase(p: Platform, s: Session, actor: Principal, cost: Decimal, what: str) -> None:
    """Refuse a purchase that takes a member over its limit (call before writing it; locks the row)."""
    limit = lock_spender(s, actor)
    if limit is not None:
        check_spend(actor.name, limit, spent(p, s, actor.account_id), cost, p.settings.currency, p.clock.now(),
                    what)


def mark_purchase(s: Session, actor: Principal, package_id: str) -> None:
    store.mark_package(s, package_id, actor.account_id)

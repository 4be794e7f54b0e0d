"""Organisation members (子账号): list, add, change and remove them; spend limits at order time.

An organisation's admin (its own account, or a member with the admin role) manages its members;
the operator manages any organisation's (naming it). Adding a member creates a tenant account of
the organisation and returns its first token; removing one revokes every token of it in the same
transaction, so its next request is refused (401).

Spend limits (docs/accounts.md): a member's spend in a calendar month (UTC) is what it committed
that month: each order it placed (not cancelled) commits its quoted cost
(:func:`suanli.domain.members.order_commitment`) and each package it bought its price. An order or
purchase that would take the spend over the member's limit is refused (409 ``spend_limit``) in the
transaction that would record it, with the member's account row locked first, so two concurrent
orders of one member cannot both pass; nothing is written.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, Grant, authorize
from suanli.domain.members import (
    Member,
    check_spend,
    month_start,
    next_month,
    order_commitment,
    parse_member_role,
)
from suanli.domain.money import check_amount, minor
from suanli.errors import ValidationError
from suanli.service.accounts import NAME_CHARS
from suanli.service.billing import resolve_tenant
from suanli.service.platform import Platform
from suanli.service.quotes import quote_of
from suanli.store import accounts as account_store
from suanli.store import leases as lease_store
from suanli.store import members as store


def _organisation(s: Session, grant: Grant, organisation: str | None) -> Principal:
    """The organisation a request is about: a tenant's own (naming another answers 404); the
    operator names one (a tenant account that is not itself a member)."""
    return resolve_tenant(s, grant, organisation)  # refuses a member named as the organisation


def parse_limit(value: object) -> Decimal:
    return check_amount(value, "spend_limit", allow_zero=True)


def _with_spend(p: Platform, s: Session, m: Member) -> Member:
    now = p.clock.now()
    return replace(m, spent=minor(store.spent(s, m.account_id, month_start(now), next_month(now)),
                                  p.settings.currency))


def list_members(p: Platform, actor: Principal, organisation: str | None = None) -> list[Member]:
    """The organisation's current members with what each spent this month (UTC)."""
    grant = authorize(actor, Action.MANAGE_MEMBERS)
    with p.tx() as s:
        org = _organisation(s, grant, organisation)
        return [_with_spend(p, s, m) for m in store.list_members(s, org.account_id, org.name)]


def add_member(p: Platform, actor: Principal, name: str, role: str, spend_limit: object = None,
               organisation: str | None = None) -> tuple[Member, str]:
    """A new member account of the organisation and its first token."""
    grant = authorize(actor, Action.MANAGE_MEMBERS)
    member_role = parse_member_role(role)
    limit = None if spend_limit is None else parse_limit(spend_limit)
    if not name or len(name) > 120 or set(name) - NAME_CHARS:
        raise ValidationError(f"member name {name!r} must be 1-120 characters of letters, digits, '-', '_', '.'",
                              field="name")
    now = p.clock.now()
    with p.tx() as s:  # the account, its membership and its first token in one transaction
        org = _organisation(s, grant, organisation)
        principal = account_store.create_account(s, name, Role.TENANT, None, now)
        store.join(s, principal.account_id, org.account_id, member_role, limit)
        token = account_store.issue_token(s, principal.account_id, now)
        return _with_spend(p, s, store.get_member(s, org.account_id, org.name, principal.account_id)), token


def set_member(p: Platform, actor: Principal, member: str, *, role: str | None = None, spend_limit: object = None,
               clear_limit: bool = False, organisation: str | None = None) -> Member:
    """Change a member's role and/or monthly limit (``clear_limit``: no limit)."""
    grant = authorize(actor, Action.MANAGE_MEMBERS)
    member_role = None if role is None else parse_member_role(role)
    if clear_limit and spend_limit is not None:
        raise ValidationError("give a spend limit or clear it, not both", field="spend_limit")
    limit = None if spend_limit is None else parse_limit(spend_limit)
    if member_role is None and limit is None and not clear_limit:
        raise ValidationError("nothing to change: give a role and/or a spend limit (or clear the limit)")
    with p.tx() as s:
        org = _organisation(s, grant, organisation)
        m = store.get_member(s, org.account_id, org.name, member, for_update=True)
        store.change(s, m.account_id, role=member_role, limit=limit, clear_limit=clear_limit)
        return _with_spend(p, s, store.get_member(s, org.account_id, org.name, m.account_id))


def remove_member(p: Platform, actor: Principal, member: str, organisation: str | None = None) -> Member:
    """Remove a member: its tokens are revoked at once (its next request is refused); what it
    ordered stays the organisation's."""
    grant = authorize(actor, Action.MANAGE_MEMBERS)
    with p.tx() as s:
        org = _organisation(s, grant, organisation)
        m = store.get_member(s, org.account_id, org.name, member, for_update=True)
        store.remove(s, m.account_id, p.clock.now())
        return m


# --- spend limits, inside the transaction that records an order or a purchase ---------------------

def lock_spender(s: Session, actor: Principal) -> Decimal | None:
    """For a member: lock its account row (until the transaction ends) and return its monthly limit;
    ``None`` (nothing locked) for an organisation's own account and the operator."""
    if actor.organisation is None:
        return None
    return store.lock_limit(s, actor.account_id)


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
    if quote is not None:
        if limit is not None and not quote.lines:
            raise ValidationError(f"member {actor.name!r} has a spend limit and this order's cost cannot be quoted "
                                  f"({quote.note or 'no list price'}); ask the organisation's admin to order it")
        committed = order_commitment(quote.hourly, quote.term_total, lease.start,  # type: ignore[union-attr]
                                     p.settings.currency)
    now = p.clock.now()
    if committed > 0:
        check_spend(actor.name, limit, store.spent(s, actor.account_id, month_start(now), next_month(now)), committed,
                    p.settings.currency, now, f"order {order_id}")
    store.mark_order(s, order_id, actor.account_id, committed)


def check_purchase(p: Platform, s: Session, actor: Principal, cost: Decimal, what: str) -> None:
    """Refuse a purchase that takes a member over its limit (call before writing it, row locked)."""
    limit = lock_spender(s, actor)
    now = p.clock.now()
    if limit is not None:
        check_spend(actor.name, limit, store.spent(s, actor.account_id, month_start(now), next_month(now)), cost,
                    p.settings.currency, now, what)


def mark_purchase(s: Session, actor: Principal, package_id: str) -> None:
    store.mark_package(s, package_id, actor.account_id)

"""Organisation members (子账号): list, add, change and remove them.

An organisation's admin (its own account, or a member with the admin role) manages its members;
the operator manages any organisation's (naming it). Adding a member creates a tenant account of
the organisation and returns its first token; removing one revokes every token of it in the same
transaction, so its next request is refused (401).

Spend limits are enforced by :mod:`suanli.service.spend`, inside the transactions that spend.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, Grant, authorize
from suanli.domain.members import Member, parse_member_role
from suanli.domain.money import check_amount
from suanli.errors import ValidationError
from suanli.service import spend
from suanli.service.accounts import NAME_CHARS
from suanli.service.billing import resolve_tenant
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import members as store


def _organisation(s: Session, grant: Grant, organisation: str | None) -> Principal:
    """The organisation a request is about: a tenant's own (naming another answers 404); the
    operator names one (a tenant account that is not itself a member)."""
    return resolve_tenant(s, grant, organisation)  # refuses a member named as the organisation


def parse_limit(value: object) -> Decimal:
    return check_amount(value, "spend_limit", allow_zero=True)


def _with_spend(p: Platform, s: Session, m: Member) -> Member:
    return replace(m, spent=spend.spent(p, s, m.account_id))


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


def own_spend(p: Platform, actor: Principal) -> tuple[Decimal | None, Decimal] | None:
    """A member's own monthly limit and what it spent this month (``None`` for anyone else); every
    member may read its own (``GET /v1/me``)."""
    if actor.organisation is None:
        return None
    with p.tx() as s:
        m = store.get_member(s, actor.organisation, actor.tenant_name, actor.account_id)
        return m.spend_limit, spend.spent(p, s, actor.account_id)

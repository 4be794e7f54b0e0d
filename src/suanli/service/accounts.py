"""Accounts, tokens and authentication."""

from __future__ import annotations

from dataclasses import replace

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.tokens import TokenScope
from suanli.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from suanli.service import token_uses
from suanli.service.platform import Platform
from suanli.service.tokens import TokenOptions, issue_for_account
from suanli.store import accounts as store
from suanli.store import fleet as fleet_store
from suanli.store import tokens as token_store

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def authenticate(p: Platform, token: str | None) -> Principal:
    """The account a token acts for, with the token's id and scope. A revoked or expired token is
    refused at once: its row is read on every request (no cache), in one query that also reads its
    account and organisation, in a read transaction (no write lock on SQLite). Its ``last_used_at``
    is noted at most once a minute (:func:`suanli.domain.tokens.needs_touch`) in memory and written
    by the background pass (:mod:`suanli.service.token_uses`): a request never writes it."""
    if not token:
        raise AuthenticationError("missing API token: send 'Authorization: Bearer <token>'")
    now = p.clock.now()
    with p.read() as s:
        found = token_store.credential(s, token)
    if found is None:
        raise AuthenticationError("unknown or revoked API token")
    cred, principal = found
    if cred.state(now) == "revoked":
        assert cred.revoked_at is not None
        raise AuthenticationError(f"API token {cred.prefix}… was revoked at {cred.revoked_at.isoformat()}; "
                                  "use another token", token=cred.prefix)
    if cred.state(now) == "expired":
        assert cred.expires_at is not None
        raise AuthenticationError(f"API token {cred.prefix}… expired at {cred.expires_at.isoformat()}; "
                                  "use another token", token=cred.prefix)
    if principal is None:
        raise AuthenticationError("unknown or revoked API token")
    token_uses.note(p, cred.id, cred.last_used_at, now)  # in memory: the background pass writes it
    return replace(principal, token_prefix=cred.prefix, token_id=cred.id, token_scope=cred.scope,
                   token_lease=cred.lease_id)


def create_account(p: Platform, actor: Principal | None, name: str, role: Role | str,
                   supplier: str | None = None) -> tuple[Principal, str]:
    """Create an account and its first token. Only the operator may (``actor=None`` is bootstrap)."""
    if actor is not None:
        authorize(actor, Action.MANAGE_ACCOUNTS)
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError(f"role {role!r} not allowed; allowed: {', '.join(r.value for r in Role)}") from None
    if not name or len(name) > 120 or set(name) - NAME_CHARS:
        raise ValidationError(f"account name {name!r} must be 1-120 characters of letters, digits, '-', '_', '.'")
    if role is Role.SUPPLIER and not supplier:
        raise ValidationError("a supplier account needs the supplier it speaks for (supplier=NAME)")
    if role is not Role.SUPPLIER and supplier:
        raise ValidationError("only supplier accounts name a supplier")
    now = p.clock.now()
    with p.tx() as s:
        if supplier and not fleet_store.supplier_exists(s, supplier):
            raise ValidationError(f"unknown supplier {supplier!r}; add it to the fleet first", supplier=supplier)
        principal = store.create_account(s, name, role, supplier, now)
        token = store.issue_token(s, principal.account_id, now)
    return principal, token


def whoami(actor: Principal) -> Principal:
    """The authenticated account itself (every role may ask)."""
    authorize(actor, Action.READ_SELF)
    return actor


def issue_token(p: Platform, actor: Principal, account: str, opts: TokenOptions | None = None) -> str:
    """A new token's secret for any account (operator); see :func:`suanli.service.tokens.issue_for_account`."""
    return issue_for_account(p, actor, account, opts)[1]


def list_accounts(p: Platform, actor: Principal) -> list[Principal]:
    authorize(actor, Action.READ_ACCOUNTS)
    with p.tx() as s:
        return store.list_accounts(s)


def bootstrap_operator(p: Platform, name: str = "operator") -> str | None:
    """On first start (no accounts), create the operator and return its token; else ``None``."""
    with p.tx() as s:
        if store.count_accounts(s):
            return None
    _, token = create_account(p, None, name, Role.OPERATOR)
    return token


def ensure_account(p: Platform, name: str, role: Role, supplier: str | None = None, reuse: str | None = None
                   ) -> str:
    """Create the account if missing; return a token for it (demo set-up): ``reuse`` if that token
    still works, is a full token and belongs to this account (so restarts do not pile up tokens), else
    a fresh one."""
    if reuse:
        try:
            who = authenticate(p, reuse)
        except AuthenticationError:
            who = None
        if (who is not None and who.name == name and who.role is role and who.supplier == supplier
                and who.token_scope is TokenScope.FULL):
            return reuse
    with p.tx() as s:
        try:
            existing = store.get_account(s, name)
        except NotFoundError:
            existing = None
        if existing is not None:
            if existing.role is not role or existing.supplier != supplier:
                raise ConflictError(f"account {name!r} exists as a {existing.role.value}"
                                    f"{' for ' + existing.supplier if existing.supplier else ''}, not a {role.value}")
            return store.issue_token(s, existing.account_id, p.clock.now())
    _, token = create_account(p, None, name, role, supplier)
    return token

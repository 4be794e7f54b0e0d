"""API tokens: make one (for yourself, or the operator for any account), list, revoke.

Scopes and the rules for making a token are in :mod:`suanli.domain.tokens`; who may do what in
:mod:`suanli.domain.authz` (``READ_TOKENS``, ``MANAGE_OWN_TOKENS``; the operator's tokens for
other accounts: ``MANAGE_ACCOUNTS``). The secret is returned once, by the call that makes it; the
store keeps its SHA-256 hash and its first characters (the prefix) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import LIVE_STATES
from suanli.domain.tokens import ApiToken, TokenScope, check_label, expiry, key_limits, within
from suanli.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import token_uses
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import leases as lease_store
from suanli.store import tokens as store


@dataclass(frozen=True)
class TokenOptions:
    """What a new token is: its label, scope (and lease), and expiry (a time or a lifetime; neither: none)."""

    label: str = ""
    scope: TokenScope | str = TokenScope.FULL
    lease: str | None = None
    expires_at: datetime | None = None
    expires_in_s: int | None = None
    rate_limit_per_minute: int | None = None
    """An inference key's own requests per minute (only with scope inference)."""
    token_quota: int | None = None
    """An inference key's prompt + completion tokens per UTC month (only with scope inference)."""


def parse_scope(value: TokenScope | str) -> TokenScope:
    try:
        return TokenScope(value)
    except ValueError:
        raise ValidationError(f"scope {value!r} not allowed; allowed: {', '.join(x.value for x in TokenScope)}",
                              field="scope") from None


def _mint(p: Platform, s: Session, owner: Principal, opts: TokenOptions, cap: datetime | None
          ) -> tuple[ApiToken, str]:
    now = p.clock.now()
    label = check_label(opts.label)
    scope = parse_scope(opts.scope)
    expires_at = expiry(now, opts.expires_at, opts.expires_in_s, cap)
    rate, quota = key_limits(scope, opts.rate_limit_per_minute, opts.token_quota)
    lease_id = None
    if scope is TokenScope.LEASE:
        if not opts.lease:
            raise ValidationError("a lease token needs the lease it is for (lease=LEASE_ID)", field="lease")
        if owner.role is not Role.TENANT:
            raise ValidationError(f"a lease token is for a tenant's own lease; {owner.name!r} is a {owner.role.value}",
                                  field="scope")
        lease = lease_store.get_lease(s, opts.lease, tenant_id=owner.tenant_id)
        if lease.state not in LIVE_STATES:
            raise ConflictError(f"lease {lease.id} is {lease.state.value}; a lease token is made only for a live "
                                "(scheduled or active) lease", lease=lease.id, state=lease.state.value)
        lease_id = lease.id
    elif opts.lease:
        raise ValidationError(f"lease is given only with scope lease (scope is {scope.value})", field="lease")
    elif scope is TokenScope.INFERENCE and owner.role is Role.SUPPLIER:
        raise ValidationError(f"an inference key is for a tenant or the operator to call models; {owner.name!r} is "
                              "a supplier", field="scope")
    return store.issue(s, owner.account_id, now, label=label, scope=scope, lease_id=lease_id, expires_at=expires_at,
                       rate_limit_per_minute=rate, token_quota=quota)


def create_token(p: Platform, actor: Principal, opts: TokenOptions) -> tuple[ApiToken, str]:
    """A new token for the actor's own account: never wider than the token asking (its scope and, if
    it expires, its expiry). Returns the token and its secret (shown once)."""
    authorize(actor, Action.MANAGE_OWN_TOKENS)
    scope = parse_scope(opts.scope)
    if not within(actor.token_scope, actor.token_lease, scope, opts.lease):
        raise PermissionDeniedError(f"a {actor.token_scope.value} token cannot make a {scope.value} token (a token "
                                    "never makes one wider than itself)", token_scope=actor.token_scope.value)
    with p.tx() as s:
        cap = store.get(s, actor.token_id, account_id=None).expires_at if actor.token_id is not None else None
        return _mint(p, s, actor, opts, cap)


def issue_for_account(p: Platform, actor: Principal, account: str, opts: TokenOptions | None = None
                      ) -> tuple[ApiToken, str]:
    """A new token for any account (operator); earlier tokens stay valid."""
    authorize(actor, Action.MANAGE_ACCOUNTS)
    with p.tx() as s:
        owner = account_store.get_account(s, account)
        return _mint(p, s, owner, opts or TokenOptions(), None)


def list_tokens(p: Platform, actor: Principal, *, account: str | None = None, every_account: bool = False
                ) -> list[ApiToken]:
    """The actor's own tokens; the operator may name any account or ask for every account's."""
    return [token_uses.seen(p, x) for x in _list_tokens(p, actor, account=account, every_account=every_account)]


def _list_tokens(p: Platform, actor: Principal, *, account: str | None, every_account: bool) -> list[ApiToken]:
    own = authorize(actor, Action.READ_TOKENS).account_id
    with p.tx() as s:
        if own is not None:
            if every_account:
                raise PermissionDeniedError("only the operator lists every account's tokens; leave out all to "
                                            "list your own")
            if account not in (None, actor.name, actor.account_id):
                raise NotFoundError(f"no account {account!r} visible to you", account=account)
            return store.list_tokens(s, account_id=own)
        if every_account:
            if account is not None:
                raise ValidationError("give an account or all, not both", field="account")
            return store.list_tokens(s, account_id=None)
        owner = account_store.get_account(s, account) if account is not None else actor
        return store.list_tokens(s, account_id=owner.account_id)


def revoke_token(p: Platform, actor: Principal, token_id: int) -> ApiToken:
    """Revoke one of the actor's tokens (the operator: any); it stops working at once. Revoking a revoked
    token changes nothing (its first revocation time stays)."""
    own = authorize(actor, Action.MANAGE_OWN_TOKENS).account_id
    now = p.clock.now()
    with p.tx() as s:
        store.get(s, token_id, account_id=own, for_update=True)
        store.revoke(s, token_id, now)
        return store.get(s, token_id, account_id=own)


def token_of(p: Platform, actor: Principal) -> ApiToken | None:
    """The token the actor authenticated with (``None``: the platform itself)."""
    if actor.token_id is None:
        return None
    with p.tx() as s:
        return token_uses.seen(p, store.get(s, actor.token_id, account_id=None))

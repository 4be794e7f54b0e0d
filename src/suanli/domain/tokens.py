"""API tokens: what one token may do (its scope), until when, and the rules for making one.

A token belongs to one account and acts with that account's role, narrowed by its scope::

    full    everything the account's role may do (the default; tokens made before scopes were)
    read    only actions that change nothing (``authz.READ_ACTIONS``); every write is refused (403)
    lease   only one lease of the token's own tenant: reading it, running, reading and cancelling
            jobs on it, reading its usage; any other lease or job answers 404 as if it did not
            exist, and every other action is refused (403). For a job's own credentials.
    inference  an API key for the model gateway (OpenAI-compatible ``/v1/models``, ``/v1/chat/completions``,
            ``/v1/completions``, ``/v1/embeddings``) and ``/v1/me``; every other route is refused (403). It
            may carry its own requests per minute (:data:`RATE_LIMIT_MAX`) and tokens per UTC month
            (:data:`TOKEN_QUOTA_MAX`), on top of the server's per-token limit
            (:mod:`suanli.service.inference_keys`). Only an inference key carries them.

Scopes are ordered by what they allow: ``full`` covers all others; ``read``, ``lease`` and
``inference`` are not comparable (a read token sees every lease but changes nothing; a lease token
runs jobs on one; an inference key calls models). An inference key makes no tokens at all (its
limits would mean nothing if it could mint fresh keys). A
token never makes a token wider than itself (:func:`within`), and a token that expires never makes
one that outlives it.

A revoked or expired token stops working at once: every request reads the token's row (no cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from suanli.domain.text import control_char
from suanli.errors import ValidationError

LABEL_MAX = 80
"""Longest label, in characters."""
MAX_LIFETIME = timedelta(days=3660)
"""The furthest expiry a token may have (about ten years from its creation)."""
MIN_LIFETIME = timedelta(seconds=60)
"""The shortest lifetime: a token that expires sooner is a mistake, not a use."""
LAST_USED_EVERY = timedelta(seconds=60)
"""``last_used_at`` is written at most this often per token (see :func:`needs_touch`)."""
RATE_LIMIT_MAX = 100_000
"""The most requests per minute an inference key may be given (the server's per-token limit still applies)."""
TOKEN_QUOTA_MAX = 10**15
"""The largest monthly token quota an inference key may be given (a quadrillion tokens: fits a bigint)."""


class TokenScope(StrEnum):
    FULL = "full"
    READ = "read"
    LEASE = "lease"
    INFERENCE = "inference"


@dataclass(frozen=True)
class ApiToken:
    """One API token as its owner and the operator see it: never the secret (shown once, at creation)."""

    id: int
    account_id: str
    account: str
    """The owning account's name."""
    prefix: str
    """The secret's first characters (``sl_`` + 7), enough to recognise it in a list or a log."""
    label: str
    scope: TokenScope
    lease_id: str | None
    """The one lease a ``lease`` token is for; ``None`` for other scopes."""
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    """The last request made with it, to within :data:`LAST_USED_EVERY`."""
    revoked_at: datetime | None
    rate_limit_per_minute: int | None = None
    """An inference key's own requests per minute (``None``: only the server's per-token limit)."""
    token_quota: int | None = None
    """An inference key's prompt + completion tokens per UTC month (``None``: no quota)."""

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a request at ``now`` should record itself in ``last_used_at``.

    At most once a minute per token: a read (GET) should not become a database write on every
    request (that would serialise every reader of one token on its row and grow the WAL with each
    poll), while "last used" to the minute is all a person deciding whether to revoke needs."""
    return last_used_at is None or now - last_used_at >= LAST_USED_EVERY


def check_label(label: str) -> str:
    """A label: at most :data:`LABEL_MAX` characters, no control characters (the one text rule,
    :func:`suanli.domain.text.control_char`)."""
    if len(label) > LABEL_MAX:
        raise ValidationError(f"label is {len(label)} characters; at most {LABEL_MAX} are allowed", field="label")
    bad = control_char(label)
    if bad:
        raise ValidationError(f"label may not hold control characters ({bad}: newlines, tabs, ESC, NUL, "
                              "bidirectional overrides); use printable text", field="label")
    return label.strip()


def expiry(now: datetime, expires_at: datetime | None, expires_in_s: int | None,
           cap: datetime | None = None) -> datetime | None:
    """The expiry of a token made at ``now``: ``expires_at`` or ``now + expires_in_s`` (at most one of
    them), between :data:`MIN_LIFETIME` and :data:`MAX_LIFETIME` from now; ``cap`` (the making
    token's own expiry) is the default and the latest allowed."""
    if expires_at is not None and expires_in_s is not None:
        raise ValidationError("give expires_at or expires_in_s, not both", field="expires_at")
    if expires_in_s is not None:
        if isinstance(expires_in_s, bool) or not isinstance(expires_in_s, int):
            raise ValidationError("expires_in_s must be a whole number of seconds", field="expires_in_s")
        lo, hi = int(MIN_LIFETIME.total_seconds()), int(MAX_LIFETIME.total_seconds())
        if not lo <= expires_in_s <= hi:
            raise ValidationError(f"expires_in_s must be between {lo} and {hi} seconds (about ten years)",
                                  field="expires_in_s")
        expires_at = now + timedelta(seconds=expires_in_s)
    elif expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValidationError("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)", field="expires_at")
        if expires_at < now + MIN_LIFETIME:
            raise ValidationError(f"expires_at must be at least {int(MIN_LIFETIME.total_seconds())} s after now "
                                  f"({now.isoformat()})", field="expires_at")
        if expires_at > now + MAX_LIFETIME:
            raise ValidationError(f"expires_at must be within {MAX_LIFETIME.days} days of now", field="expires_at")
    if cap is not None:
        if expires_at is None:
            return cap
        if expires_at > cap:
            raise ValidationError(f"this token expires at {cap.isoformat()}; a token it makes cannot outlive it",
                                  field="expires_at")
    return expires_at


def within(have: TokenScope, have_lease: str | None, want: TokenScope, want_lease: str | None) -> bool:
    """Whether a token of scope ``have`` may make one of scope ``want`` (never a wider one)."""
    if have is TokenScope.FULL:
        return True
    if have is TokenScope.READ:
        return want is TokenScope.READ
    if have is TokenScope.INFERENCE:
        return False
    return want is TokenScope.LEASE and want_lease == have_lease


def key_limits(scope: TokenScope, rate_limit_per_minute: object, token_quota: object
               ) -> tuple[int | None, int | None]:
    """The per-key limits of a new token: whole numbers from 1 to :data:`RATE_LIMIT_MAX` requests per
    minute and 1 to :data:`TOKEN_QUOTA_MAX` tokens per UTC month, each optional, and given only for an
    ``inference`` key (other scopes are limited by the server's per-token limit alone)."""
    checked: list[int | None] = []
    for name, value, most in (("rate_limit_per_minute", rate_limit_per_minute, RATE_LIMIT_MAX),
                              ("token_quota", token_quota, TOKEN_QUOTA_MAX)):
        if value is None:
            checked.append(None)
            continue
        if scope is not TokenScope.INFERENCE:
            raise ValidationError(f"{name} is given only for an inference key (scope inference); this token's "
                                  f"scope is {scope.value}", field=name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{name} must be a whole number from 1 to {most:,}", field=name)
        if not 1 <= value <= most:
            raise ValidationError(f"{name} is {value}; allowed: 1 to {most:,} (leave it out for no limit)",
                                  field=name)
        checked.append(value)
    return checked[0], checked[1]


"""Admission of a gateway request under its inference key's own limits (docs/inference.md, "Keys,
quotas and prices").

An ``inference`` key (:mod:`suanli.domain.tokens`) may carry

- ``rate_limit_per_minute``: requests per minute, a moving window counted with the ``limits``
  library in this process's memory (like the server's per-token limit in
  :mod:`suanli.api.middleware`, which still applies on top); with N server processes the effective
  limit is N times the setting. Past it: :class:`~suanli.errors.TooManyRequestsError` (429
  ``rate_limit_exceeded``, ``Retry-After`` = seconds until the window frees a request);
- ``token_quota``: prompt + completion tokens per UTC month. The month's use is the key's row of
  ``inference_key_usage``, which the gateway's metering increments in the same transaction as the
  request's usage events. A request is admitted when ``used + needed <= quota`` where ``needed`` is
  the gateway's bound on what the request may use (its prompt tokens plus its ``max_tokens``);
  else :class:`~suanli.errors.QuotaExceededError` (429 ``insufficient_quota``) saying what is left
  and when the quota resets (the first instant of next month, UTC). Requests in flight together are
  each checked against the metered use only, so concurrent requests may pass the quota by at most
  what they use together; the next request is refused.

The check is one indexed read (the token's row joined to its usage row of the month; the gateway
makes it in the same read transaction as the model's route: :func:`read_budget`) and, with a rate
limit, one in-memory hit; it writes nothing. Other scopes (a ``full`` token calling models) have
no per-key limits and are not read at all.
"""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.members import next_month
from suanli.domain.tokens import TokenScope
from suanli.errors import AuthenticationError, QuotaExceededError, TooManyRequestsError
from suanli.service.platform import Platform
from suanli.store import inference_keys as store
from suanli.store.inference_keys import KeyBudget


class KeyLimiter:
    """The per-key request windows of one platform (kept with it: :meth:`Platform.attached`)."""

    def __init__(self, _p: Platform) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._items: dict[int, RateLimitItem] = {}
        self._lock = threading.Lock()

    def item(self, per_minute: int) -> RateLimitItem:
        with self._lock:
            found = self._items.get(per_minute)
            if found is None:
                found = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
            return found

    def hit(self, token_id: int, per_minute: int) -> int | None:
        """Count one request of the key; ``None`` if allowed, else the seconds until one is (≥ 1)."""
        item = self.item(per_minute)
        key = f"key:{token_id}"
        if self.limiter.hit(item, key):
            return None
        reset = self.limiter.get_window_stats(item, key).reset_time
        return max(1, math.ceil(reset - time.time()))


def period_of(p: Platform) -> str:
    """The current UTC month, ``YYYY-MM`` (the period of ``inference_key_usage``)."""
    return p.clock.now().strftime("%Y-%m")


def limited(principal: Principal) -> bool:
    """The principal's key has per-key limits to check (an ``inference`` key)."""
    return principal.token_id is not None and principal.token_scope is TokenScope.INFERENCE


def read_budget(s: Session, p: Platform, principal: Principal) -> KeyBudget | None:
    """The key's limits and this month's use, read in the caller's transaction (the gateway reads it
    with the model's route: one read per request); ``None``: not an inference key."""
    if principal.token_id is None or not limited(principal):
        return None
    return store.budget(s, principal.token_id, period_of(p))


_UNREAD = object()


def admit(p: Platform, principal: Principal, needed_tokens: int, budget: KeyBudget | object | None = _UNREAD) -> None:
    """Raise :class:`TooManyRequestsError` or :class:`QuotaExceededError` if the principal's inference
    key may not make this request now; return otherwise (writes nothing). ``budget``: what
    :func:`read_budget` read for it already (else it is read here)."""
    if principal.token_id is None or not limited(principal):
        return
    now = p.clock.now()
    if budget is _UNREAD:
        with p.read() as s:
            got = store.budget(s, principal.token_id, now.strftime("%Y-%m"))
    else:
        assert budget is None or isinstance(budget, KeyBudget)
        got = budget
    if got is None:  # revoked and deleted between authentication and here
        raise AuthenticationError("the API key no longer exists; make a new one (`suanli token create --scope "
                                  "inference`)")
    name = f"key {principal.token_prefix}…" if principal.token_prefix else f"key {principal.token_id}"
    if got.rate_limit_per_minute is not None:
        wait = p.attached(KeyLimiter).hit(principal.token_id, got.rate_limit_per_minute)
        if wait is not None:
            raise TooManyRequestsError(
                f"{name} is limited to {got.rate_limit_per_minute:,} requests per minute; retry after {wait} s",
                limit_per_minute=got.rate_limit_per_minute, retry_after_s=wait)
    quota = got.token_quota
    if quota is not None and (got.used + max(needed_tokens, 0) > quota or got.used >= quota):
        resets = next_month(now)
        left = max(quota - got.used, 0)
        raise QuotaExceededError(
            f"{name} has used {got.used:,} of its {quota:,} tokens this month (UTC); this request may use up to "
            f"{needed_tokens:,} (prompt + max_tokens) and {left:,} are left: ask for fewer tokens (max_tokens) or "
            f"wait until the quota resets at {resets.isoformat()}",
            quota=quota, used=got.used, left=left, needed=needed_tokens, resets_at=resets.isoformat(),
            retry_after_s=max(1, math.ceil((resets - now).total_seconds())))

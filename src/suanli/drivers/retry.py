"""Retry with exponential back-off for calls to an engine that may be unreachable.

Pure and clock-injected: nothing here sleeps on its own. Two ways to use it:

- A reconciler keeps a :class:`RetryState` per object (e.g. per lease) next to its row, asks
  ``state.due(now)`` before acting, and stores ``state.failed(now, policy)`` or
  ``RetryState()`` (success) afterwards. Nothing blocks; the next tick picks it up.
- A caller that may block uses :func:`call_with_retry` with an injected ``sleep`` (tests pass a
  fake that records the delays).

Delays: ``base * factor**(attempt-1)``, capped at ``cap``, then spread by a deterministic
jitter in ``[1 - jitter, 1]`` derived from ``key`` (so many leases failing together do not
retry in lock-step, and tests stay reproducible). Only errors that say they are retryable
(``EngineError`` with ``details["retryable"]``) are retried by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from suanli.errors import EngineError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=2)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=5)
    jitter: float = 0.2
    """Fraction of each delay that may be shaved off (0 = none)."""
    max_attempts: int | None = None
    """``None`` = retry for ever (a reconciler); a number = give up after that many failures."""

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("retry base must be positive and cap >= base")
        if self.factor < 1:
            raise ValueError("retry factor must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("retry jitter must be in [0, 1)")

    def delay(self, attempt: int, key: str = "") -> timedelta:
        """Delay after the ``attempt``-th consecutive failure (1-based)."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        raw = min(self.base.total_seconds() * self.factor ** (attempt - 1), self.cap.total_seconds())
        digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
        unit = int.from_bytes(digest[:8], "big") / 2**64
        return timedelta(seconds=raw * (1 - self.jitter * unit))


@dataclass(frozen=True)
class RetryState:
    """Consecutive failures of one object and when it may be tried again."""

    attempts: int = 0
    next_at: datetime | None = None
    last_error: str | None = None

    def due(self, now: datetime) -> bool:
        return self.next_at is None or now >= self.next_at

    def failed(self, now: datetime, policy: RetryPolicy, *, key: str = "", error: str | None = None) -> RetryState:
        n = self.attempts + 1
        return RetryState(attempts=n, next_at=now + policy.delay(n, key), last_error=error)

    def exhausted(self, policy: RetryPolicy) -> bool:
        return policy.max_attempts is not None and self.attempts >= policy.max_attempts


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, EngineError) and bool(exc.details.get("retryable"))


def call_with_retry(fn: Callable[[], T], *, policy: RetryPolicy, sleep: Callable[[float], None],
                    key: str = "", retry_if: Callable[[BaseException], bool] = is_retryable) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error escapes, or attempts run out.

    ``policy.max_attempts`` must be set (a blocking call must end); the last error is re-raised.
    """
    if policy.max_attempts is None:
        raise ValueError("call_with_retry needs policy.max_attempts")
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            attempt += 1
            if not retry_if(exc) or attempt >= policy.max_attempts:
                raise
            sleep(policy.delay(attempt, key).total_seconds())

"""When each API token was last used, without a write per request.

A request notes its token's use here, in this process's memory (:func:`note`), at most once a
minute per token (:func:`suanli.domain.tokens.needs_touch`, against the later of the stored and the
noted instant). The background pass writes what was noted (:func:`flush`), each row guarded so that
it only moves forward and at most once a minute (:func:`suanli.store.tokens.touch`), whichever
replica flushes. A token list shows the later of the stored and this process's noted instant
(:func:`seen`), so a use is visible at once on the replica that served it and on every replica after
the next pass. A use noted by a process killed before its next pass is lost (it is a hint, not an
audit record: the audit trail records every change a request makes, with its token).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from suanli.domain.tokens import ApiToken, needs_touch
from suanli.service.platform import Platform
from suanli.store import tokens as store


class _Uses:
    def __init__(self, _p: Platform) -> None:
        self.lock = threading.Lock()
        self.noted: dict[int, datetime] = {}


def _of(p: Platform) -> _Uses:
    return p.attached(_Uses)


def note(p: Platform, token_id: int, stored: datetime | None, now: datetime) -> None:
    """A request used the token at ``now`` (``stored``: its ``last_used_at`` as read); no database write."""
    uses = _of(p)
    with uses.lock:
        last = uses.noted.get(token_id)
        known = stored if last is None or (stored is not None and stored > last) else last
        if needs_touch(known, now):
            uses.noted[token_id] = now


def seen(p: Platform, token: ApiToken) -> ApiToken:
    """The token with the later of its stored and this process's noted last use."""
    noted = _of(p).noted.get(token.id)
    if noted is None or (token.last_used_at is not None and token.last_used_at >= noted):
        return token
    return replace(token, last_used_at=noted)


def flush(p: Platform) -> int:
    """Write the noted uses (the background pass); returns how many were noted. A failed write keeps them."""
    uses = _of(p)
    with uses.lock:
        taken, uses.noted = uses.noted, {}
    if not taken:
        return 0
    try:
        with p.tx() as s:
            for token_id, at in sorted(taken.items()):
                store.touch(s, token_id, at)
    except Exception:
        with uses.lock:
            for token_id, at in taken.items():
                if token_id not in uses.noted or uses.noted[token_id] < at:
                    uses.noted[token_id] = at
        raise
    return len(taken)

"""An inference key's limits and its tokens this month, read together for the gateway's admission check."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from suanli.store.inference_tables import InferenceKeyUsageRow
from suanli.store.tables import ApiTokenRow


@dataclass(frozen=True)
class KeyBudget:
    """What :func:`budget` reads: the key's own limits and its prompt + completion tokens in the month."""

    rate_limit_per_minute: int | None
    token_quota: int | None
    used: int


_BUDGET = (
    select(ApiTokenRow.rate_limit_per_minute, ApiTokenRow.token_quota, func.coalesce(InferenceKeyUsageRow.tokens, 0))
    .outerjoin(InferenceKeyUsageRow, and_(InferenceKeyUsageRow.token_id == ApiTokenRow.id,
                                          InferenceKeyUsageRow.period == bindparam("period")))
    .where(ApiTokenRow.id == bindparam("token_id")))
"""One indexed read (both primary keys), built once."""


def budget(s: Session, token_id: int, period: str) -> KeyBudget | None:
    """The key's limits and its tokens in ``period`` (``YYYY-MM``); ``None``: no such token."""
    found = s.connection().execute(_BUDGET, {"token_id": token_id, "period": period}).one_or_none()
    if found is None:
        return None
    rate, quota, used = found
    return KeyBudget(rate_limit_per_minute=rate, token_quota=quota, used=int(used))

"""Metered gateway requests summed per (tenant, key, model) over a span of time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from suanli.domain.inference_usage import KeyModelUsage
from suanli.store.inference_tables import InferenceRequestRow
from suanli.store.tables import ApiTokenRow


def key_model_usage(s: Session, tenant_id: str | None, start: datetime, end: datetime) -> list[KeyModelUsage]:
    """Requests that ended in ``[start, end)`` (their usage events' time), of one tenant or all,
    summed per (tenant, key, model); ordered by tenant, model, key."""
    r = InferenceRequestRow
    q = (select(r.tenant_id, r.token_id, ApiTokenRow.prefix, ApiTokenRow.label, r.model, func.count(),
                func.sum(r.prompt_tokens), func.sum(r.cached_tokens), func.sum(r.completion_tokens))
         .outerjoin(ApiTokenRow, ApiTokenRow.id == r.token_id)
         .where(r.ended_at >= start, r.ended_at < end)
         .group_by(r.tenant_id, r.token_id, ApiTokenRow.prefix, ApiTokenRow.label, r.model)
         .order_by(r.tenant_id, r.model, r.token_id))
    if tenant_id is not None:
        q = q.where(r.tenant_id == tenant_id)
    return [KeyModelUsage(tenant_id=t, token_id=k, prefix=prefix or "", label=label or "", model=m, requests=int(n),
                          prompt_tokens=int(pt or 0), cached_tokens=int(ct or 0), completion_tokens=int(co or 0))
            for t, k, prefix, label, m, n, pt, ct, co in s.execute(q).all()]

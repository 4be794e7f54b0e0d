"""Recent order documents, for the live mix of typical requests (``service.typical_mix``).

Reads only: the stored order documents (what :func:`suanli.domain.leases.order_to_dict` wrote)
of the orders that arrived since a time, newest first, at most ``limit`` of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.store.tables import OrderRow


def recent_order_docs(s: Session, since: datetime, limit: int) -> list[dict[str, Any]]:
    """Order documents of the orders created at or after ``since`` (newest first, at most ``limit``)."""
    q = (select(OrderRow.spec).where(OrderRow.created_at >= since)
         .order_by(OrderRow.created_at.desc(), OrderRow.id).limit(limit))
    return [dict(doc) for doc in s.scalars(q) if isinstance(doc, dict)]

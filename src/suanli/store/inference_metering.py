"""Writes of the gateway's metering: one ``inference_requests`` row per request (insert once) and the
key's monthly token counter (``inference_key_usage``), both inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from suanli.store.inference_tables import InferenceKeyUsageRow, InferenceRequestRow


def insert_requests(s: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the requests' rows (one statement) except those whose id is stored already; the ids inserted."""
    if not rows:
        return set()
    table = cast(Table, InferenceRequestRow.__table__)
    ins = postgresql.insert(table) if s.get_bind().dialect.name == "postgresql" else sqlite.insert(table)
    stmt = ins.values(list(rows)).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    return {r[0] for r in s.execute(stmt)}


def add_key_tokens(s: Session, token_id: int, period: str, tokens: int) -> None:
    """``inference_key_usage.tokens += tokens`` for (token, month), the row made if absent."""
    table = cast(Table, InferenceKeyUsageRow.__table__)
    ins = postgresql.insert(table) if s.get_bind().dialect.name == "postgresql" else sqlite.insert(table)
    stmt = ins.values(token_id=token_id, period=period, tokens=tokens).on_conflict_do_update(
        index_elements=["token_id", "period"], set_={"tokens": table.c.tokens + tokens})
    s.execute(stmt)

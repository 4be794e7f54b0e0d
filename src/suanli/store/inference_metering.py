"""Writes of the gateway's metering: one ``inference_requests`` row per request (insert once) and the
key's monthly token counter (``inference_key_usage``), both inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from suanli.store.inference_tables import InferenceKeyUsageRow, InferenceRequestRow


def insert_request(s: Session, *, id: str, token_id: int | None, tenant_id: str, deployment_id: str,
                   replica_id: str, model: str, endpoint: str, prompt_tokens: int, completion_tokens: int,
                   cached_tokens: int, status: str, stream: bool, started_at: datetime,
                   first_token_at: datetime | None, ended_at: datetime) -> bool:
    """Insert the request's row unless its id is stored already; True if this call inserted it."""
    table = cast(Table, InferenceRequestRow.__table__)
    values = dict(id=id, token_id=token_id, tenant_id=tenant_id, deployment_id=deployment_id, replica_id=replica_id,
                  model=model, endpoint=endpoint, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                  cached_tokens=cached_tokens, status=status, stream=stream, started_at=started_at,
                  first_token_at=first_token_at, ended_at=ended_at)
    ins = postgresql.insert(table) if s.get_bind().dialect.name == "postgresql" else sqlite.insert(table)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    return s.execute(stmt).first() is not None


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


def request_exists(s: Session, request_id: str) -> bool:
    return s.scalar(select(InferenceRequestRow.id).where(InferenceRequestRow.id == request_id)) is not None




"""Writes of the gateway's metering: one ``inference_requests`` row per request (insert once) and the
key's monthly token counter (``inference_key_usage``), both inside the caller's transaction.

Each write is one statement built once per dialect (bind parameters only) and run as an executemany
over the batch on the session's Core connection: the metering worker's CPU per request carries no
statement compilation and no ORM work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from suanli.store.inference_tables import InferenceKeyUsageRow, InferenceRequestRow

_REQ = cast(Table, InferenceRequestRow.__table__)
_KEY = cast(Table, InferenceKeyUsageRow.__table__)


def _statements(dialect: Any) -> tuple[Insert, Insert]:
    req = dialect.insert(_REQ)
    key = dialect.insert(_KEY)
    return (req.on_conflict_do_nothing(index_elements=["id"]).returning(_REQ.c.id),
            key.on_conflict_do_update(index_elements=["token_id", "period"],
                                      set_={"tokens": _KEY.c.tokens + key.excluded.tokens}))


_BUILT = {"postgresql": _statements(postgresql), "sqlite": _statements(sqlite)}
"""dialect name -> (insert requests, add key tokens), built once."""


def _built(s: Session) -> tuple[Insert, Insert]:
    return _BUILT["postgresql" if s.get_bind().dialect.name == "postgresql" else "sqlite"]


def insert_requests(s: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the requests' rows (one prebuilt statement, run over the batch) except those whose id is
    stored already; the ids inserted. Every row carries the same keys (the table's columns)."""
    if not rows:
        return set()
    return {r[0] for r in s.connection().execute(_built(s)[0], list(rows))}


def add_key_tokens(s: Session, rows: Sequence[tuple[int, str, int]]) -> None:
    """``inference_key_usage.tokens += tokens`` for each (token, month, tokens), the row made if absent,
    in the given order (one prebuilt statement over the batch)."""
    if rows:
        s.connection().execute(_built(s)[1], [{"token_id": t, "period": p, "tokens": n} for t, p, n in rows])

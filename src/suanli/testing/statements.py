"""What SQL a piece of code runs, for tests that count statements (ORDERS, BATCHWRITE: docs/performance.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event

_DML = ("SELECT", "INSERT", "UPDATE", "DELETE")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SELECT, INSERT, UPDATE and DELETE statements ``engine`` runs while inside, in order, each on one line
    (at most 160 characters)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.split(None, 1)[0].upper() in _DML:
            seen.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)

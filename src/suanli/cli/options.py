"""Shared options and exact parsers for command-line values (amounts, instants)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def amount(value: str, name: str) -> Decimal:
    """Parse an amount exactly (a decimal string, never a float); a bad one is a usage error (exit 2)."""
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not a decimal number", param_hint=name) from None
    if not d.is_finite():
        raise typer.BadParameter(f"{value!r} is not a finite number", param_hint=name)
    return d


def instant(value: str | None, name: str) -> datetime | None:
    """Parse ISO-8601 (``2026-12-01``, ``2026-12-01T08:00``, ``…Z``, ``…+08:00``); naive means UTC."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO-8601 date-time, e.g. 2026-12-01T08:00:00Z",
                                 param_hint=name) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt

"""All terminal output: Rich tables for people, plain JSON for scripts, errors on stderr.

Amounts arrive as exact ``Decimal``s; they are rounded here **for display only** (half up) and
printed unrounded under ``--json`` (as the server's decimal strings).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 160
"""Width used when stdout is not a terminal and $COLUMNS is unset (pipes, files, tests): wide enough
that tables are not folded; a terminal uses its own width."""


def out() -> Console:
    # Built per call so that it writes to whatever sys.stdout is now (CliRunner swaps it).
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(highlight=False, soft_wrap=False, width=PIPE_WIDTH)
    return console


def err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, *, hint: str = "", code: int = 1) -> NoReturn:
    """Print ``error: message`` (and a hint) to stderr and exit ``code``."""
    console = err()
    console.print(Text.assemble(("error: ", "bold red"), message))
    if hint:
        console.print(Text(hint, style="dim"))
    raise typer.Exit(code)


def info(message: str) -> None:
    err().print(Text(message, style="dim"))


def jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list | tuple):
        return [jsonable(x) for x in data]
    if isinstance(data, dict):
        return {k: jsonable(v) for k, v in data.items()}
    if isinstance(data, Decimal):
        return str(data)
    if isinstance(data, datetime):
        return data.isoformat()
    return data


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout (decimals as strings, never floats)."""
    typer.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def dec(value: Decimal | None, places: int = 2) -> str:
    """A decimal rounded half up to ``places`` for display; ``-`` for none."""
    if value is None:
        return "-"
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q, rounding=ROUND_HALF_UP):,}"


def num(value: Decimal) -> str:
    """An exact decimal without trailing zeros (device counts like 2 or 0.25)."""
    s = format(value, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant in UTC (``Z``)."""
    if value is None:
        return "-"
    if value.utcoffset() is not None:
        value = value.astimezone(UTC)
    return value.strftime(fmt) + "Z"


KEEP_WHOLE = frozenset({"id", "lease", "order"})


def table(title: str | None, columns: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Any]],
          caption: str | None = None) -> Table:
    """A table; a column given as ``(name, "right")`` is right-aligned (numbers)."""
    t = Table(title=Text(title) if title else None, caption=Text(caption) if caption else None, title_justify="left", caption_justify="left")
    for i, c in enumerate(columns):
        name, justify = (c, "left") if isinstance(c, str) else c
        keep = i == 0 or name in KEEP_WHOLE  # keys and instants are not wrapped; free text is
        t.add_column(name, justify=justify, overflow="fold", no_wrap=keep)  # type: ignore[arg-type]
    for r in rows:
        t.add_row(*(Text("-" if v is None else str(v)) for v in r))  # Text: no markup in data
    return t


def show(*renderables: Any) -> None:
    console = out()
    for r in renderables:
        console.print(Text(r) if isinstance(r, str) else r)  # plain text: no markup in data

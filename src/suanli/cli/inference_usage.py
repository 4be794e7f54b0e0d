"""``suanli inference usage``: usage and cost of the model gateway per inference key and model,
through :class:`suanli.client.inference_usage.InferenceUsageClient`."""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json, show, table
from suanli.client.inference_usage import InferenceUsageClient

inference_app = typer.Typer(help="The model inference service: usage and cost per inference key and model.",
                            no_args_is_help=True)

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="The tenant (operator; a tenant sees its own).")]
PeriodOpt = Annotated[str | None, typer.Option("--period", metavar="YYYY-MM",
                                               help="The month (UTC; default: this month).")]


@inference_app.command("usage")
def inference_usage(ctx: typer.Context, period: PeriodOpt = None, tenant: TenantOpt = None,
                    as_json: JsonOpt = False) -> None:
    """Usage and cost per inference key and model in a month: requests, prompt (of them cached) and
    completion tokens, and cost (the model's token charges on the invoice draft, split across keys by
    tokens; the totals equal the invoice's token lines)."""
    with client(ctx) as api:
        u = InferenceUsageClient(api).usage(period=period, tenant=tenant)
    if as_json:
        print_json(u)
        return
    t = u.totals
    rows = [[r.tenant, str(r.token_id) if r.token_id is not None else "-",
             (r.prefix + "…") if r.prefix else "-", r.label or "-", r.model, f"{r.requests:,}",
             f"{r.prompt_tokens:,}", f"{r.cached_tokens:,}", f"{r.completion_tokens:,}", f"{r.cost:f}"]
            for r in u.rows]
    rows.append(["total", "", "", "", "", f"{t.requests:,}", f"{t.prompt_tokens:,}", f"{t.cached_tokens:,}",
                 f"{t.completion_tokens:,}", f"{t.cost:f}"])
    show(table(f"inference usage {u.period} ({u.currency}, as of {u.as_of:%Y-%m-%d %H:%M} UTC)",
               ["tenant", ("key", "right"), "prefix", "label", "model", ("requests", "right"), ("prompt", "right"),
                ("cached", "right"), ("completion", "right"), ("cost", "right")], rows))

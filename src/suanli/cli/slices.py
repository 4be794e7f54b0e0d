"""``suanli slice profiles``: the slice sizes each model can be sold in and what enforces them (docs/slices.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json, show, table
from suanli.client.slices import SlicesClient

slice_app = typer.Typer(help="Enforced slices: the sizes each accelerator model can be sold in (MIG profiles, vNPU "
                             "templates, MPS or HAMi limits) and what enforces them on this server.",
                        no_args_is_help=True)


@slice_app.command("profiles")
def slice_profiles(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Only this model (e.g. A100-80GB).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per model: the mechanism that holds a slice to its share here (mig, hami, mps, vnpu or none) and the sizes
    it sells; a MIG or vNPU slice is rounded up to the smallest size holding its compute and memory."""
    with client(ctx) as api:
        rows = SlicesClient(api).profiles(model)
    if as_json:
        print_json(rows)
        return
    out = []
    for r in rows:
        sizes = ", ".join(f"{s.name} ({s.share_pct}%, {s.memory_mib} MiB)" for s in r.sizes) or r.summary
        out.append([r.model, r.vendor, r.enforcement, sizes])
    show(table("slice sizes", ["model", "vendor", "enforced by", "sizes"], out))

"""``suanli oversub set|list|offers``: oversubscription factors and the burstable pool (docs/slices.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError as PydanticValidationError

from suanli.cli.context import client, invalid
from suanli.cli.options import JsonOpt
from suanli.cli.render import dec, print_json, show, table, when
from suanli.client.oversub import OversubClient

oversub_app = typer.Typer(help="Oversubscription: set and list per-site, per-model factors and burstable discounts "
                               "(operator), the burstable pool and its measured contention; where burstable slices "
                               "are sold.", no_args_is_help=True)


@oversub_app.command("set")
def oversub_set(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="The site whose devices are oversold.")],
    model: Annotated[str, typer.Option("--model", help="The accelerator model, e.g. L20.")],
    factor: Annotated[str, typer.Option("--factor", help="Compute sold per unit of compute: 1 (none) to 4, "
                                                         "2 decimal places. Memory is never oversold.")],
    discount: Annotated[str, typer.Option("--discount", metavar="PCT",
                                          help="How much lower a burstable slice is priced, % off the list price: "
                                               "above 0 up to 90.")],
    stop: Annotated[bool, typer.Option("--stop", help="Stop selling burstable slices there (leases keep their "
                                                      "terms).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a (site, model)'s oversubscription factor and burstable discount (operator). Applies to new grants
    only; every change is kept with who made it and when."""
    with client(ctx) as api:
        try:
            f = OversubClient(api).set(site=site, model=model, factor=factor, discount_pct=discount, offered=not stop)
        except PydanticValidationError as e:
            invalid(e)
    if as_json:
        print_json(f)
        return
    show(table("oversubscription set", ["site", "model", ("factor", "right"), ("discount %", "right"), "offered",
                                        "set by", "set at"],
               [[f.site, f.model, dec(f.factor, 2), dec(f.discount_pct, 2), "yes" if f.offered else "no", f.set_by,
                 when(f.set_at)]]))


@oversub_app.command("list")
def oversub_list(ctx: typer.Context, history: Annotated[bool, typer.Option("--history", help="Every change, "
                                                                             "newest first.")] = False,
                 as_json: JsonOpt = False) -> None:
    """The factors in force, the burstable pool (compute sold vs physical per site and model) and the contention
    measured per pool device: the share of telemetry samples in which it was saturated (operator)."""
    with client(ctx) as api:
        doc = OversubClient(api).get()
    if as_json:
        print_json(doc)
        return
    rows = doc.history if history else doc.in_force
    show(table("oversubscription " + ("history" if history else "in force"),
               ["site", "model", ("factor", "right"), ("discount %", "right"), "offered", "set by", "set at"],
               [[f.site, f.model, dec(f.factor, 2), dec(f.discount_pct, 2), "yes" if f.offered else "no", f.set_by,
                 when(f.set_at)] for f in rows],
               caption=f"factor 1 to {dec(doc.max_factor, 0)}; discount above 0 up to {dec(doc.max_discount_pct, 0)} %"))
    show(table("burstable pool now", ["site", "model", ("devices", "right"), ("slices", "right"),
                                      ("compute sold", "right"), ("oversold", "right")],
               [[g.site, g.model, str(g.pool_devices), str(g.slices), f"{g.sold_compute_milli / 1000:g} devices",
                 f"{dec(g.oversold, 2)}x"] for g in doc.pools]))
    show(table("contention", ["node", "device", "model", ("slices", "right"), ("samples", "right"),
                              ("saturated", "right")],
               [[d.node, str(d.slot), d.model, str(d.slices), str(d.samples),
                 "-" if d.contention is None else f"{d.contention * 100:.1f} %"] for d in doc.devices],
               caption=f"saturated: a sample at or above {doc.saturated_pct} % busy (agent telemetry); '-' = no sample"))


@oversub_app.command("offers")
def oversub_offers(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Where burstable slices are sold now and how much lower they are priced."""
    with client(ctx) as api:
        rows = OversubClient(api).offers()
    if as_json:
        print_json(rows)
        return
    show(table("burstable slices", ["site", "model", ("discount %", "right"), "note"],
               [[o.site, o.model, dec(o.discount_pct, 2), o.note] for o in rows]))

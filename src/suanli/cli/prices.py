"""``suanli offers`` and ``suanli price set|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.render import dec, print_json, show, table, when

price_app = typer.Typer(help="List prices: set them (operator) and list them in both units.", no_args_is_help=True)


def offers(ctx: typer.Context,
           model: Annotated[str | None, typer.Option("--model", help="Only this accelerator model, e.g. H800.")] = None,
           site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
           min_memory: Annotated[int | None, typer.Option("--min-memory", metavar="GIB",
                                                          help="Only models with at least this much memory per device (GiB).")] = None,
           as_json: JsonOpt = False) -> None:
    """What can be rented now, per model and site: free/total devices, list price in 元/device-hour and 元/P/年, and the energy cost per P-hour. Table figures are rounded for display; --json is exact."""
    with client(ctx) as api:
        rows = api.offers(model=model, site=site, min_memory_gib=min_memory)
    if as_json:
        print_json(rows)
        return
    show(table("offers (free now)",
               ["model", "vendor", "site", "region", ("free/total", "right"), ("元/device-h", "right"),
                ("元/P/年", "right"), ("energy 元/P-h", "right")],
               [[o.model, o.vendor, o.site, o.region, f"{o.free_devices}/{o.devices}", dec(o.price_device_hour, 2),
                 dec(o.price_p_year, 0), dec(o.energy_cost_per_p_hour, 2)] for o in rows],
               caption=f"{len(rows)} offers; prices in {rows[0].currency if rows else 'CNY'}, rounded for display "
                       "(--json gives exact figures); '-' = no list price yet"))


@price_app.command("set")
def price_set(ctx: typer.Context,
              model: Annotated[str, typer.Argument(help="Accelerator model, e.g. H800.")],
              amount_: Annotated[str, typer.Argument(metavar="AMOUNT", help="The price, e.g. 180000 or 20.33.")],
              unit: Annotated[str, typer.Option("--unit", help="device_hour (元/device-hour) or p_year (元/P/年).")]
              = "device_hour",
              site: Annotated[str | None, typer.Option("--site", help="Only at this site (default: every site).")] = None,
              effective_from: Annotated[str | None, typer.Option(
                  "--effective-from", metavar="ISO",
                  help="When it takes effect, UTC unless an offset is given (default: now). Leases spanning "
                       "the change are billed piecewise.")] = None,
              as_json: JsonOpt = False) -> None:
    """Set a list price (operator), in either unit; prints it in both units."""
    value = amount(amount_, "AMOUNT")
    eff = instant(effective_from, "--effective-from")
    with client(ctx) as api:
        p = api.set_price(model, value, unit, site=site, effective_from=eff)
    if as_json:
        print_json(p)
        return
    show(table("price set", ["model", "site", ("元/device-h", "right"), ("元/P/年", "right"), "set in", "effective from"],
               [[p.model, p.site or "(all)", dec(p.device_hour, 2), dec(p.p_year, 0), p.unit, when(p.effective_from)]]))


@price_app.command("list")
def price_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every list price entry (effective-dated), in both units: 元/device-hour and 元/P/年."""
    with client(ctx) as api:
        rows = api.prices()
    if as_json:
        print_json(rows)
        return
    show(table("list prices", ["model", "site", ("元/device-h", "right"), ("元/P/年", "right"), "set in",
                               "effective from"],
               [[p.model, p.site or "(all)", dec(p.device_hour, 2), dec(p.p_year, 0), p.unit, when(p.effective_from)]
                for p in rows],
               caption="rounded for display; --json gives exact figures"))

"""``suanli invoice show`` and ``suanli revenue``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import dec, num, print_json, show, table, when

invoice_app = typer.Typer(help="Tenants' monthly invoices.", no_args_is_help=True)


def current_period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


SHORT = "%m-%d %H:%M:%S"

PeriodOpt = Annotated[str | None, typer.Option("--period", metavar="YYYY-MM",
                                               help="The month (default: the current UTC month, to date).")]


@invoice_app.command("show")
def invoice_show(ctx: typer.Context, period: PeriodOpt = None,
                 tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant (operator only; a tenant "
                                                            "sees its own).")] = None,
                 as_json: JsonOpt = False) -> None:
    """A tenant's invoice for a month: one line per lease, model, site and price segment, the total and the rounding rule (each line rounded once to 0.01, half up)."""
    with client(ctx) as api:
        inv = api.invoice(period or current_period(), tenant=tenant)
    if as_json:
        print_json(inv)
        return
    show(table(f"invoice {inv.tenant} {inv.period} ({inv.currency})",
               ["lease", "model", "site", ("devices", "right"), "from", "to", ("seconds", "right"),
                ("元/h", "right"), ("amount", "right")],
               [[x.lease_id, x.model, x.site, num(x.devices), when(x.start, SHORT), when(x.end, SHORT), x.seconds,
                 dec(x.unit_price, 4), dec(x.amount)] for x in inv.lines],
               caption=f"issued {when(inv.issued_at)}; {len(inv.lines)} lines"),
         f"total {dec(inv.total)} {inv.currency}", f"rounding: {inv.rounding}")


def revenue(ctx: typer.Context, period: PeriodOpt = None,
            supplier: Annotated[str | None, typer.Option("--supplier", help="The supplier (operator only; a "
                                                         "supplier account sees its own).")] = None,
            as_json: JsonOpt = False) -> None:
    """A supplier's revenue for a month: gross billed on its devices, its share and the operator's commission."""
    with client(ctx) as api:
        rev = api.revenue(period or current_period(), supplier=supplier)
    if as_json:
        print_json(rev)
        return
    show(table(f"revenue {rev.supplier} {rev.period} ({rev.currency})",
               [("gross", "right"), ("supplier share", "right"), ("commission", "right"), ("lines", "right")],
               [[dec(rev.gross), dec(rev.supplier_share), dec(rev.commission), rev.lines]]))


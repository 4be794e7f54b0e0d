"""``suanli invoice show`` (a month's invoice: issued, or the draft as the ledger rates it) and ``suanli revenue``
(a supplier's statement for a month)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.money import (
    invoice_credit,
    invoice_export,
    invoice_get,
    invoice_issue,
    invoice_list,
    invoice_pay,
    invoice_void,
    sla_notes,
    statement_out,
)
from suanli.cli.options import JsonOpt
from suanli.cli.render import dec, print_json, show, table, when

invoice_app = typer.Typer(help="Tenants' monthly invoices: the draft to date, and issued invoices.",
                          no_args_is_help=True)


def current_period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


PeriodOpt = Annotated[str | None, typer.Option("--period", metavar="YYYY-MM",
                                               help="The month (default: the current UTC month, to date).")]


@invoice_app.command("show")
def invoice_show(ctx: typer.Context, period: PeriodOpt = None,
                 tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant (operator only; a tenant "
                                                            "sees its own).")] = None,
                 as_json: JsonOpt = False) -> None:
    """A tenant's invoice for a month: the issued invoice once the month is issued, else the draft as it
    will be issued (to date for the current month): the ledger's lines (plans, packages, list prices),
    subtotal, tax, vouchers, credits, wallet, amount due, and the rounding rule (each line rounded once
    to 0.01, half up)."""
    with client(ctx) as api:
        inv = api.invoice(period or current_period(), tenant=tenant)
    if as_json:
        print_json(inv)
        return
    split = any(x.supplier_share is not None for x in inv.lines)  # the operator's view
    cols: list[str | tuple[str, str]] = ["#", "kind", "meter", "model", "site", "lease", ("quantity", "right"),
                                         "unit", ("unit price", "right"), ("amount", "right")]
    if split:
        cols += [("supplier share", "right"), ("commission", "right")]
    rows = [[x.line_no + 1, x.kind, x.meter, x.model, x.site, x.lease, f"{x.quantity:.4f}", x.price_unit, dec(x.unit_price, 4), dec(x.amount),
             *([dec(x.supplier_share), dec(x.commission)] if split else [])] for x in inv.lines]
    cur = inv.currency
    state = "draft" if inv.id is None else f"{inv.status} {inv.id}"
    when_s = f"as of {when(inv.as_of)}" if inv.id is None else f"issued {when(inv.as_of)}"
    show(table(f"invoice {inv.tenant} {inv.period} ({cur}) [{state}]", cols, rows,
               caption=f"{when_s}; {len(inv.lines)} lines; {inv.records} usage records"),
         f"subtotal {dec(inv.subtotal)} {cur}; tax {dec(inv.tax)} {cur}",
         f"total {dec(inv.total)} {cur}",
         f"− vouchers {dec(inv.vouchers)} − credits {dec(inv.credits)} − wallet {dec(inv.wallet)} "
         f"= amount due {dec(inv.amount_due)} {cur}",
         f"rounding: {inv.rounding}", *sla_notes(inv.sla_credits))


def revenue(ctx: typer.Context, period: PeriodOpt = None,
            supplier: Annotated[str | None, typer.Option("--supplier", help="The supplier (operator only; a "
                                                         "supplier account sees its own).")] = None,
            as_json: JsonOpt = False) -> None:
    """A supplier's statement for a month: its share and the operator's commission on the month's issued
    invoices, per node (with model and site) (same as ``suanli statement supplier --period``)."""
    with client(ctx) as api:
        statement_out(api.revenue(period or current_period(), supplier=supplier), as_json)


# The billed-invoice commands (written with the other money commands), after ``show``.
for _fn, _name in ((invoice_list, "list"), (invoice_issue, "issue"), (invoice_get, "get"), (invoice_export, "export"),
                   (invoice_pay, "pay"), (invoice_void, "void"), (invoice_credit, "credit")):
    invoice_app.command(_name)(_fn)

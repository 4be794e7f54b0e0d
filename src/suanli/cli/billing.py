"""``suanli invoice show`` (a month's invoice: issued, or the draft as the ledger rates it) and ``suanli revenue``
(a supplier's statement for a month)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.invoice_view import invoice_out
from suanli.cli.money import (
    invoice_credit,
    invoice_debit,
    invoice_export,
    invoice_get,
    invoice_issue,
    invoice_list,
    invoice_pay,
    invoice_void,
    statement_out,
)
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json
from suanli.client.money import MoneyClient

invoice_app = typer.Typer(help="Tenants' monthly invoices: the draft to date, and issued invoices.",
                          no_args_is_help=True)


def current_period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


PeriodOpt = Annotated[str | None, typer.Option("--period", metavar="YYYY-MM",
                                               help="The month (default: the current UTC month, to date).")]


@invoice_app.command("show")
def invoice_show(ctx: typer.Context,
                 invoice_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="An issued invoice's id "
                                                                  "(inv_...); without it, a month's invoice.")] = None,
                 period: PeriodOpt = None,
                 tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant (operator only; a tenant "
                                                            "sees its own).")] = None,
                 fmt: Annotated[str, typer.Option("--format", help="table (default), json, csv or html: "
                                                  "a draft exports exactly as the issued invoice will.")] = "table",
                 lang: Annotated[str, typer.Option("--lang", help="The document's language for csv and html: en "
                                                   "(default) or zh-CN (销售方/购买方, 税额, 价税合计大写).")] = "en",
                 output: Annotated[Path | None, typer.Option("--output", "-o", help="Write csv or html to a "
                                                             "file.")] = None,
                 as_json: JsonOpt = False) -> None:
    """A tenant's invoice for a month: the issued invoice once the month is issued, else the draft as it
    will be issued (to date for the current month): the ledger's lines (plans, packages, list prices),
    subtotal, tax, vouchers, credits, wallet, amount due, and the rounding rule (each line rounded once
    to 0.01, half up). Amounts print the same way on the draft and on the issued invoice. With an ID, that
    issued invoice (``suanli invoice show inv_… --lang zh-CN --format html -o invoice.html``)."""
    if fmt not in ("table", "json", "csv", "html"):
        raise typer.BadParameter("allowed: table, json, csv, html", param_hint="--format")
    if lang not in ("en", "zh-CN"):
        raise typer.BadParameter("allowed: en, zh-CN", param_hint="--lang")
    if fmt in ("csv", "html"):
        with client(ctx) as api:
            money = MoneyClient(api)
            text = (money.export_invoice(invoice_id, fmt, lang) if invoice_id else
                    money.export_month(period or current_period(), fmt, tenant=tenant, lang=lang))
        if output:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {output}")
        else:
            typer.echo(text)
        return
    as_json = as_json or fmt == "json"
    with client(ctx) as api:
        inv = MoneyClient(api).billed_invoice(invoice_id) if invoice_id else \
            api.invoice(period or current_period(), tenant=tenant)
    if as_json:
        print_json(inv)
        return
    invoice_out(inv)


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
                   (invoice_pay, "pay"), (invoice_void, "void"), (invoice_credit, "credit"),
                   (invoice_debit, "debit")):
    invoice_app.command(_name)(_fn)

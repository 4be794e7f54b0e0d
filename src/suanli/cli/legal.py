"""Invoices ready for China and supplier payouts: ``suanli legal`` (the seller's and buyers' legal
profiles), ``suanli tax-rate`` (tax per product type) and ``suanli payout`` (record and list payouts).
All through :class:`suanli.client.legal.LegalClient`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.render import print_json, show, table, when
from suanli.client.legal import LegalClient

legal_app = typer.Typer(help="Legal profiles printed on invoices: the seller (the operator) and each buyer (a tenant): "
                             "legal name, tax id (统一社会信用代码), address, phone, bank, invoice type.",
                        no_args_is_help=True)
seller_app = typer.Typer(help="The seller's (operator's) legal profile.", no_args_is_help=True)
buyer_app = typer.Typer(help="A buyer's (tenant's) legal profile and the invoice type it wants.", no_args_is_help=True)
legal_app.add_typer(seller_app, name="seller")
legal_app.add_typer(buyer_app, name="buyer")
tax_app = typer.Typer(help="Tax rates per product type (compute, package, storage, traffic, tokens), from an instant.",
                      no_args_is_help=True)
payout_app = typer.Typer(help="Supplier payouts: record one (operator), list them (a supplier its own).",
                         no_args_is_help=True)

Opt = Annotated[str | None, typer.Option()]


def _profile(legal_name: str | None, tax_id: str | None, foreign: bool, address: str | None, phone: str | None,
             bank_name: str | None, bank_account: str | None, invoice_type: str | None) -> dict[str, Any]:
    if not legal_name or not tax_id:
        raise typer.BadParameter("--legal-name and --tax-id are required", param_hint="--legal-name")
    body: dict[str, Any] = {"legal_name": legal_name, "tax_id": tax_id, "foreign_tax_id": foreign}
    for k, v in (("address", address), ("phone", phone), ("bank_name", bank_name), ("bank_account", bank_account),
                 ("invoice_type", invoice_type)):
        if v is not None:
            body[k] = v
    return body


def _profile_out(p: Any, as_json: bool) -> None:
    if as_json:
        print_json(p)
        return
    rows = [["legal name", p.legal_name], ["tax id", p.tax_id + (" (foreign)" if p.foreign_tax_id else "")],
            ["address", p.address or "-"], ["phone", p.phone or "-"], ["bank", p.bank_name or "-"],
            ["account", p.bank_account or "-"],
            ["invoice type", f"{p.invoice_type} ({p.invoice_type_name['zh-CN']})"],
            ["updated", f"{when(p.updated_at)} by {p.updated_by or '-'}"]]
    show(table(f"legal profile: {p.party}", ["field", "value"], rows))


LegalName = Annotated[str | None, typer.Option("--legal-name", help="The registered legal name.")]
TaxId = Annotated[str | None, typer.Option("--tax-id", help="统一社会信用代码 (18 characters), or a foreign tax id "
                                                            "with --foreign-tax-id.")]
Foreign = Annotated[bool, typer.Option("--foreign-tax-id", help="Registered outside mainland China.")]
Address = Annotated[str | None, typer.Option("--address")]
Phone = Annotated[str | None, typer.Option("--phone")]
BankName = Annotated[str | None, typer.Option("--bank-name", help="开户行.")]
BankAccount = Annotated[str | None, typer.Option("--bank-account", help="银行账号.")]


@seller_app.command("show")
def seller_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The seller's profile (printed on every invoice)."""
    with client(ctx) as api:
        _profile_out(LegalClient(api).seller(), as_json)


@seller_app.command("set")
def seller_set(ctx: typer.Context, legal_name: LegalName = None, tax_id: TaxId = None, foreign: Foreign = False,
               address: Address = None, phone: Phone = None, bank_name: BankName = None,
               bank_account: BankAccount = None, as_json: JsonOpt = False) -> None:
    """Set the seller's profile (operator). Invoices issued before keep the profile they were issued with."""
    body = _profile(legal_name, tax_id, foreign, address, phone, bank_name, bank_account, None)
    with client(ctx) as api:
        _profile_out(LegalClient(api).set_seller(body), as_json)


@buyer_app.command("show")
def buyer_show(ctx: typer.Context, tenant: Annotated[str, typer.Argument(help="The tenant (a tenant: itself).")],
               as_json: JsonOpt = False) -> None:
    """A tenant's buyer profile."""
    with client(ctx) as api:
        _profile_out(LegalClient(api).buyer(tenant), as_json)


@buyer_app.command("set")
def buyer_set(ctx: typer.Context, tenant: Annotated[str, typer.Argument(help="The tenant (a tenant: itself).")],
              legal_name: LegalName = None, tax_id: TaxId = None, foreign: Foreign = False, address: Address = None,
              phone: Phone = None, bank_name: BankName = None, bank_account: BankAccount = None,
              invoice_type: Annotated[str | None, typer.Option("--invoice-type", help="normal (增值税普通发票, default) "
                                                               "or special (增值税专用发票: needs address, phone, bank "
                                                               "and account).")] = None,
              as_json: JsonOpt = False) -> None:
    """Set a tenant's buyer profile: the tenant's admin or finance member, or the operator."""
    body = _profile(legal_name, tax_id, foreign, address, phone, bank_name, bank_account, invoice_type)
    with client(ctx) as api:
        _profile_out(LegalClient(api).set_buyer(tenant, body), as_json)


@tax_app.command("list")
def tax_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The rates in force now per product type (the default where none was set) and every rate set."""
    with client(ctx) as api:
        r = LegalClient(api).tax_rates()
    if as_json:
        print_json(r)
        return
    show(table(f"tax rates in force ({when(r.as_of)})", ["product type", "name", ("rate", "right"), "set"],
               [[x.product_type, f"{x.name['en']} / {x.name['zh-CN']}", f"{x.rate:f}",
                 "yes" if x.set else f"default (SUANLI_TAX_RATE={r.default:f})"] for x in r.in_force]),
         table("rates set", ["product type", ("rate", "right"), "from", "set at", "by", "reason"],
               [[x.product_type, f"{x.rate:f}", when(x.effective_from), when(x.set_at), x.set_by, x.reason or "-"]
                for x in r.rates]))


@tax_app.command("set")
def tax_set(ctx: typer.Context,
            product_type: Annotated[str, typer.Argument(metavar="TYPE", help="compute, package, storage, traffic "
                                                        "or tokens.")],
            rate: Annotated[str, typer.Argument(metavar="RATE", help="A fraction: 0.06 is 6 %.")],
            effective_from: Annotated[str | None, typer.Option("--from", metavar="ISO-8601", help="From when "
                                                               "(default now; never in the past).")] = None,
            reason: Annotated[str, typer.Option("--reason")] = "", as_json: JsonOpt = False) -> None:
    """Set a product type's tax rate (operator). Issued invoices keep the rates they were issued with."""
    with client(ctx) as api:
        r = LegalClient(api).set_tax_rate(product_type, amount(rate, "RATE"),
                                          effective_from=instant(effective_from, "--from"), reason=reason)
    if as_json:
        print_json(r)
        return
    typer.echo(f"{r.product_type}: {r.rate:f} from {when(r.effective_from)}")


def _payouts_out(rows: list[Any]) -> None:
    show(table("payouts", ["id", "supplier", ("amount", "right"), "paid on", "reference", "periods", "recorded"],
               [[x.id, x.supplier, f"{x.amount:f} {x.currency}", x.paid_on.isoformat(), x.reference or "-",
                 " ".join(x.periods) or "-", f"{when(x.recorded_at)} by {x.recorded_by}"] for x in rows]))


@payout_app.command("record")
def payout_record(ctx: typer.Context, supplier: str,
                  value: Annotated[str, typer.Argument(metavar="AMOUNT", help="In whole cents, at most what is owed.")],
                  paid_on: Annotated[str | None, typer.Option("--paid-on", metavar="YYYY-MM-DD", help="The day of "
                                                              "the transfer (default today).")] = None,
                  reference: Annotated[str, typer.Option("--reference", help="The bank transfer's id.")] = "",
                  period: Annotated[list[str] | None, typer.Option("--period", metavar="YYYY-MM",
                                                                   help="A month it pays for (repeat).")] = None,
                  key: Annotated[str | None, typer.Option("--key", help="Idempotency key: the same key again "
                                                          "records nothing new.")] = None,
                  as_json: JsonOpt = False) -> None:
    """Record a payout to a supplier (operator): one ledger entry and one record; 409 above what is owed."""
    try:
        day = date.fromisoformat(paid_on) if paid_on else None
    except ValueError:
        raise typer.BadParameter(f"{paid_on!r} is not a date YYYY-MM-DD", param_hint="--paid-on") from None
    with client(ctx) as api:
        r = LegalClient(api).record_payout(supplier, amount(value, "AMOUNT"), paid_on=day, reference=reference,
                                           periods=period or [], key=key)
    if as_json:
        print_json(r)
        return
    _payouts_out([r])
    typer.echo(f"still owed to {r.supplier}: {r.owed_after:f} {r.currency}" if r.owed_after is not None else "")


@payout_app.command("list")
def payout_list(ctx: typer.Context, supplier: Annotated[str | None, typer.Option("--supplier", help="One supplier "
                                                                                "(a supplier sees its own).")] = None,
                as_json: JsonOpt = False) -> None:
    """Payouts, newest first."""
    with client(ctx) as api:
        rows = LegalClient(api).payouts(supplier)
    if as_json:
        print_json(rows)
        return
    _payouts_out(rows)

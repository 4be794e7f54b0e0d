"""``suanli voucher``: compute vouchers (算力券) under the rule presets of real schemes; claim,
redeem, the facts the rules need, and the audit. Through :class:`suanli.client.vouchers.VoucherClient`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from suanli.cli.context import client
from suanli.cli.options import JsonOpt, amount, instant
from suanli.cli.render import fail, print_json, show, table, when
from suanli.client.vouchers import VoucherClient

voucher_app = typer.Typer(help="Compute vouchers (算力券): schemes (beijing, shanghai, shenzhen), claim, redeem, "
                               "audit.", no_args_is_help=True)
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="The tenant (operator only; a tenant sees its own).")]
SCHEME_HELP = ("Rule preset: custom (your percent and cap), beijing (<= 20% of the contract, <= 2,000,000 per firm "
               "a year, claim then redeem), shanghai (<= 30% of rent), shenzhen (<= 50%, 60% for a start-up, "
               "<= 10,000,000 per firm a year). See `suanli voucher schemes`.")


@voucher_app.command("issue")
def voucher_issue(ctx: typer.Context, tenant: Annotated[str, typer.Option("--tenant")],
                  issuer: Annotated[str, typer.Option("--issuer", help="Who funds it, e.g. shanghai-city.")],
                  percent: Annotated[str, typer.Option("--percent", help="Fraction of eligible charges, e.g. 0.3.")],
                  cap: Annotated[str, typer.Option("--cap", help="Most it pays in total.")],
                  valid_from: Annotated[str, typer.Option("--from", help="ISO-8601 start.")],
                  valid_to: Annotated[str, typer.Option("--to", help="ISO-8601 end (exclusive).")],
                  scheme: Annotated[str, typer.Option("--scheme", help=SCHEME_HELP)] = "custom",
                  as_json: JsonOpt = False) -> None:
    """Issue a compute voucher to a tenant under a scheme's rules (operator)."""
    a, b = instant(valid_from, "--from"), instant(valid_to, "--to")
    assert a is not None and b is not None
    with client(ctx) as api:
        v = VoucherClient(api).issue(tenant=tenant, issuer=issuer, percent=amount(percent, "--percent"),
                                     cap=amount(cap, "--cap"), valid_from=a, valid_to=b, scheme=scheme)
    print_json(v) if as_json else typer.echo(
        f"voucher {v.id} ({v.scheme}): {v.percent:f} of eligible charges up to {v.cap:f}")


@voucher_app.command("list")
def voucher_list(ctx: typer.Context, tenant: TenantOpt = None, issuer: str | None = None, as_json: JsonOpt = False
                 ) -> None:
    """Vouchers with what they have paid and their claims."""
    with client(ctx) as api:
        rows = VoucherClient(api).vouchers(tenant=tenant, issuer=issuer)
    if as_json:
        print_json(rows)
        return
    show(table("vouchers", ["id", "scheme", "issuer", "tenant", ("percent", "right"), ("cap", "right"),
                            ("used", "right"), ("left", "right"), "from", "to", "claimed"],
               [[v.id, v.scheme, v.issuer, v.tenant, f"{v.percent:f}", f"{v.cap:f}", f"{v.used:f}", f"{v.left:f}",
                 when(v.valid_from), when(v.valid_to), ", ".join(c["contract"] for c in v.claims)] for v in rows]))


@voucher_app.command("schemes")
def voucher_schemes(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The rule presets of real schemes and what each allows."""
    with client(ctx) as api:
        rows = VoucherClient(api).schemes()
    if as_json:
        print_json(rows)
        return
    show(table("voucher schemes", ["scheme", ("max %", "right"), ("start-up %", "right"),
                                   ("per firm a year", "right"), "rules"],
               [[r.scheme, f"{r.max_percent:f}", f"{r.startup_percent:f}" if r.startup_percent else "",
                 f"{r.firm_annual_cap:,f}" if r.firm_annual_cap else "", r.title] for r in rows]))


@voucher_app.command("audit")
def voucher_audit(ctx: typer.Context, issuer: str | None = None, tenant: TenantOpt = None,
                  csv_out: Annotated[bool, typer.Option("--csv", help="CSV for the issuer's audit.")] = False,
                  as_json: JsonOpt = False) -> None:
    """Every use and refusal of vouchers, line by line, with the rule that allowed or refused it."""
    with client(ctx) as api:
        if csv_out:
            typer.echo(VoucherClient(api).audit_csv(issuer=issuer, tenant=tenant), nl=False)
            return
        rows = VoucherClient(api).audit(issuer=issuer, tenant=tenant)
    if as_json:
        print_json(rows)
        return
    show(table("voucher audit", ["voucher", "tenant", "invoice", "line", "outcome", ("amount", "right"), "rule",
                                 "why"],
               [[r.voucher, r.tenant, r.invoice, r.line_no, r.outcome, f"{r.amount:f}", r.rule, r.rule_text]
                for r in rows]))


@voucher_app.command("contract")
def voucher_contract(ctx: typer.Context, plan: Annotated[str, typer.Argument(help="The paid plan's id.")],
                     signed_on: Annotated[str, typer.Option("--signed-on", help="YYYY-MM-DD.")],
                     value: Annotated[str, typer.Option("--value", help="The contract's total value.")],
                     other_subsidy: Annotated[str, typer.Option(
                         "--other-subsidy", help="Another municipal subsidy on it, if any.")] = "",
                     as_json: JsonOpt = False) -> None:
    """Record a paid contract's facts for the voucher rules (operator); its term is the plan's dates."""
    try:
        signed = date.fromisoformat(signed_on)
    except ValueError:
        fail(f"--signed-on must be a date YYYY-MM-DD, got {signed_on!r}")
    with client(ctx) as api:
        c = VoucherClient(api).record_contract(plan=plan, signed_on=signed, value=amount(value, "--value"),
                                               other_subsidy=other_subsidy)
    print_json(c) if as_json else typer.echo(f"contract {c.plan} of {c.tenant}: signed {c.signed_on}, value "
                                             f"{c.value:f}, term {when(c.term_start)} to {when(c.term_end)}")


@voucher_app.command("approve-supplier")
def voucher_approve(ctx: typer.Context, scheme: Annotated[str, typer.Argument()],
                    supplier: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Put a supplier on a scheme's approved supplier list (operator)."""
    with client(ctx) as api:
        out = VoucherClient(api).approve_supplier(scheme, supplier)
    print_json(out) if as_json else typer.echo(f"{out.scheme} approved suppliers: {', '.join(out.suppliers)}")


@voucher_app.command("startup")
def voucher_startup(ctx: typer.Context, tenant: Annotated[str, typer.Argument()],
                    no: Annotated[bool, typer.Option("--no", help="Mark it not a start-up.")] = False,
                    note: str = "", as_json: JsonOpt = False) -> None:
    """Mark a tenant a start-up (Shenzhen pays up to 60 % for one) (operator)."""
    with client(ctx) as api:
        out = VoucherClient(api).set_firm(tenant, startup=not no, note=note)
    print_json(out) if as_json else typer.echo(f"{out.tenant}: {'a start-up' if out.startup else 'not a start-up'}")


@voucher_app.command("claim")
def voucher_claim(ctx: typer.Context, voucher: Annotated[str, typer.Argument()],
                  contract: Annotated[str, typer.Option("--contract", help="The paid plan's id.")],
                  as_json: JsonOpt = False) -> None:
    """Claim a voucher against a contract (operator); a contract takes one claim."""
    with client(ctx) as api:
        out = VoucherClient(api).claim(voucher, contract)
    print_json(out) if as_json else typer.echo(f"claim {out.id}: voucher {out.voucher} on contract {out.contract}")


@voucher_app.command("redeem")
def voucher_redeem(ctx: typer.Context, voucher: Annotated[str, typer.Argument()],
                   invoice: Annotated[str, typer.Option("--invoice", help="An issued invoice of the tenant.")],
                   evidence: Annotated[str, typer.Option("--evidence", help="Delivery evidence reference.")],
                   as_json: JsonOpt = False) -> None:
    """Redeem a claimed voucher with an issued invoice and delivery evidence (operator)."""
    with client(ctx) as api:
        out = VoucherClient(api).redeem(voucher, invoice=invoice, evidence=evidence)
    if as_json:
        print_json(out)
        return
    show(table(f"redemption {out.id}: {out.amount:f} to the tenant's wallet",
               ["line", "outcome", ("amount", "right"), "rule", "why"],
               [[x.line_no, x.outcome, f"{x.amount:f}", x.rule, x.rule_text] for x in out.lines]))

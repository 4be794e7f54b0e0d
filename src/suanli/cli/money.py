"""Money commands: ``suanli usage``, ``wallet``, ``plan``, ``statement`` (``package`` lives in
:mod:`suanli.cli.packages`, ``voucher`` in :mod:`suanli.cli.vouchers`), and the billed-invoice
commands under ``suanli invoice`` (list, issue, get, export, pay, void, credit; mounted by
:mod:`suanli.cli.billing`). All through
:class:`suanli.client.money.MoneyClient`."""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from suanli.cli.context import client
from suanli.cli.invoice_view import invoice_out, invoices_out
from suanli.cli.options import JsonOpt, amount
from suanli.cli.render import fail, print_json, show, table, when
from suanli.client.legal import LegalClient
from suanli.client.money import MoneyClient

usage_app = typer.Typer(help="Usage events: ingest and totals.", no_args_is_help=True)
wallet_app = typer.Typer(help="Prepaid wallets, credits and the low-balance rule.", no_args_is_help=True)
PLAN_HELP = ("Price plans: payg, spot, term (包月/包年, holds its devices), commit (包销 take-or-pay, holds its "
             "devices), spend_commitment (holds nothing).")
plan_app = typer.Typer(help=PLAN_HELP, no_args_is_help=True)
statement_app = typer.Typer(help="Supplier statements and the operator's revenue report.", no_args_is_help=True)

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="The tenant (operator only; a tenant sees its own).")]
PeriodOpt = Annotated[str | None, typer.Option("--period", metavar="YYYY-MM", help="The month.")]


def _read_events(path: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        data = json.loads(text)
    else:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        fail(f"{path}: expected a JSON array of events or one JSON event per line")
    return data


@usage_app.command("ingest")
def usage_ingest(ctx: typer.Context,
                 file: Annotated[str, typer.Argument(help="JSON array or JSON lines of events; - for stdin.")],
                 batch: Annotated[int, typer.Option(help="Events per request (<= 10,000).")] = 1000,
                 as_json: JsonOpt = False) -> None:
    """Send usage events (CloudEvents-shaped: id, source, type, subject, time, data). Resending is safe."""
    try:
        events = _read_events(file)
    except (OSError, ValueError) as e:
        fail(f"cannot read events from {file}: {e}")
    total = {"received": 0, "accepted": 0, "duplicates": 0}
    with client(ctx) as api:
        m = MoneyClient(api)
        for i in range(0, len(events), batch):
            r = m.ingest(events[i:i + batch])
            for k in total:
                total[k] += getattr(r, k)
    if as_json:
        print_json(total)
        return
    typer.echo(f"received {total['received']}, accepted {total['accepted']}, duplicates {total['duplicates']}")


@usage_app.command("training-tokens")
def usage_training_tokens(
        ctx: typer.Context,
        tokens: Annotated[int, typer.Argument(min=1, help="Training tokens processed (a positive integer).")],
        event_id: Annotated[str | None, typer.Option("--id", help="The event's id: sending the same id again "
                                                     "counts once (default: a new one each time).")] = None,
        lease: Annotated[str | None, typer.Option("--lease", help="The lease (default: $SUANLI_LEASE_ID, set in "
                                                  "every job).")] = None,
        at: Annotated[str | None, typer.Option("--time", help="When (ISO-8601 with a zone; default: now). To resend "
                                               "an --id, give the same --time: a resent event must be the same.")]
        = None,
        as_json: JsonOpt = False) -> None:
    """Report training tokens for the lease this job runs on (inside a job: no other arguments; the job's
    own SUANLI_TOKEN and SUANLI_SERVER are used; docs/sandbox.md). Billed under a training-token plan."""
    lease = lease or os.environ.get("SUANLI_LEASE_ID")
    if not lease:
        fail("give --lease LEASE_ID (a job has it in $SUANLI_LEASE_ID)")
    job = os.environ.get("SUANLI_JOB_ID")
    with client(ctx) as api:
        me = api.me()
        r = MoneyClient(api).ingest_one({
            "id": event_id or uuid.uuid4().hex, "source": f"lease/{lease}" + (f"/{job}" if job else ""),
            "type": "training_tokens", "subject": me.organisation or me.name, "time": at or datetime.now(UTC).isoformat(),
            "data": {"quantity": tokens, "lease": lease}})
    if as_json:
        print_json({"received": r.received, "accepted": r.accepted, "duplicates": r.duplicates})
        return
    typer.echo(f"training tokens {tokens} on lease {lease}: {'duplicate' if r.duplicates else 'accepted'}")


@usage_app.command("show")
def usage_show(ctx: typer.Context, tenant: TenantOpt = None, period: PeriodOpt = None, as_json: JsonOpt = False
               ) -> None:
    """Usage totals per tenant, meter and model."""
    with client(ctx) as api:
        rows = MoneyClient(api).usage(tenant=tenant, period=period)
    if as_json:
        print_json(rows)
        return
    show(table("usage", ["tenant", "meter", "model", ("quantity", "right"), ("events", "right")],
               [[r.tenant, r.meter, r.model, f"{r.quantity:f}", r.events] for r in rows]))


def _wallet_out(w: Any, as_json: bool) -> None:
    if as_json:
        print_json(w)
        return
    show(table(f"wallet {w.tenant} ({w.currency})", ["balance", "credits", "burn/h", "runway h", "standing",
                                                     "suspended"],
               [[f"{w.balance:f}", f"{w.credits:f}", f"{w.burn_per_hour:f}",
                 ("∞" if w.prepaid else "—") if w.runway_hours is None else f"{w.runway_hours:f}", w.standing,
                 ",".join(w.suspended_leases)]]))


@wallet_app.command("show")
def wallet_show(ctx: typer.Context, tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Balance, credits, burn rate and runway."""
    with client(ctx) as api:
        _wallet_out(MoneyClient(api).wallet(tenant), as_json)


@wallet_app.command("top-up")
def wallet_top_up(ctx: typer.Context, tenant: str, value: Annotated[str, typer.Argument(metavar="AMOUNT")],
                  reference: str = "", as_json: JsonOpt = False) -> None:
    """Record money received into a tenant's wallet (operator)."""
    with client(ctx) as api:
        _wallet_out(MoneyClient(api).top_up(tenant, amount(value, "AMOUNT"), reference), as_json)


@wallet_app.command("credit")
def wallet_credit(ctx: typer.Context, tenant: str, value: Annotated[str, typer.Argument(metavar="AMOUNT")],
                  reason: Annotated[str, typer.Option("--reason", help="What the credit is for.")],
                  as_json: JsonOpt = False) -> None:
    """Grant an operator credit (coupon), spent after vouchers and before wallet cash."""
    with client(ctx) as api:
        _wallet_out(MoneyClient(api).grant_credit(tenant, amount(value, "AMOUNT"), reason), as_json)


@wallet_app.command("policy")
def wallet_policy(ctx: typer.Context, tenant: str, warn_hours: str = "24", suspend_hours: str = "1",
                  as_json: JsonOpt = False) -> None:
    """Make a tenant prepaid: warn below WARN hours of runway, suspend pay-as-you-go leases below SUSPEND."""
    with client(ctx) as api:
        _wallet_out(MoneyClient(api).set_wallet_policy(tenant, amount(warn_hours, "--warn-hours"),
                                                       amount(suspend_hours, "--suspend-hours")), as_json)


@wallet_app.command("check")
def wallet_check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Apply the low-balance rule now (operator): suspend or resume leases."""
    with client(ctx) as api:
        out = MoneyClient(api).check_wallets()
    print_json(out) if as_json else typer.echo(f"{len(out['changes'])} change(s): {out['changes']}")


@plan_app.command("create")
def plan_create(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="The plan as a JSON file.")],
                as_json: JsonOpt = False) -> None:
    """Create a price plan from a JSON document (see docs/billing.md)."""
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"cannot read {file}: {e}")
    with client(ctx) as api:
        pl = MoneyClient(api).create_plan(doc)
    print_json(pl) if as_json else typer.echo(f"plan {pl.id} ({pl.kind}) for {pl.tenant}{_holds(pl)}")


def _holds(pl: Any) -> str:
    if pl.reservation:
        model, n = (pl.term_model, pl.term_devices) if pl.kind == "term" else (pl.commit_model, pl.commit_devices)
        return f"; holds {n} x {model} (reservation {pl.reservation})"
    return "; holds no capacity" if pl.kind in ("spend_commitment", "term", "commit") else ""


@plan_app.command("end")
def plan_end(ctx: typer.Context, plan_id: Annotated[str, typer.Argument(help="The plan's id (pl_...).")],
             at: Annotated[str | None, typer.Option("--at", metavar="ISO-8601",
                                                    help="When it ends, with a time zone (default now; never in the "
                                                         "past).")] = None,
             as_json: JsonOpt = False) -> None:
    """End a plan (operator): it prices nothing after; a term or commit plan gives its devices back then,
    and a term fee already issued for later time gets a credit note for it."""
    with client(ctx) as api:
        pl = MoneyClient(api).end_plan(plan_id, at)
    print_json(pl) if as_json else typer.echo(f"plan {pl.id} ({pl.kind}) for {pl.tenant} ends "
                                              f"{when(pl.effective_to) if pl.effective_to else 'never'}")


@plan_app.command("list")
def plan_list(ctx: typer.Context, tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    with client(ctx) as api:
        rows = MoneyClient(api).plans(tenant=tenant)
    if as_json:
        print_json(rows)
        return
    show(table("plans", ["id", "tenant", "kind", "from", "to", "paid", "holds"],
               [[x.id, x.tenant, x.kind, when(x.effective_from), when(x.effective_to), x.paid,
                 _holds(x).removeprefix("; ") or "-"] for x in rows]))


@statement_app.command("supplier")
def statement_supplier(ctx: typer.Context, supplier: str | None = None, period: PeriodOpt = None,
                       as_json: JsonOpt = False) -> None:
    """A supplier's revenue share per period and node (with model and site); a supplier sees its own."""
    with client(ctx) as api:
        statement_out(MoneyClient(api).supplier_statement(supplier=supplier, period=period), as_json)


@statement_app.command("earnings")
def statement_earnings(ctx: typer.Context, supplier: str | None = None,
                       period: Annotated[str, typer.Option("--period", metavar="current|YYYY-MM",
                                                           help="The month so far (default current).")] = "current",
                       as_json: JsonOpt = False) -> None:
    """A supplier's earnings to date: its share of issued invoices, SLA credits it bore, paid, owed, and the
    month's share so far from tenants' drafts (PROVISIONAL until each tenant's invoice is issued)."""
    with client(ctx) as api:
        e = LegalClient(api).earnings(supplier, period)
    if as_json:
        print_json(e)
        return
    rows = [["issued (all months)", f"{e.issued_share:f}"], [f"  of it {e.period}", f"{e.period_issued_share:f}"],
            ["SLA credits borne", f"-{e.sla_share:f}"],
            [f"PROVISIONAL {e.period} ({e.provisional_tenants} tenant drafts)", f"{e.provisional_share:f}"],
            ["earned to date", f"{e.earned_to_date:f}"], ["paid", f"{e.paid:f}"], ["owed now", f"{e.owed:f}"]]
    show(table(f"earnings {e.supplier} ({e.currency}), as of {when(e.as_of)}", ["figure", ("amount", "right")], rows,
               caption=e.note))


def statement_out(st: Any, as_json: bool) -> None:
    """A supplier statement as a table (or JSON); also ``suanli revenue``."""
    if as_json:
        print_json(st)
        return
    show(table(f"statement {st.supplier} ({st.currency})", ["period", "node", "model", "site", ("leases", "right"),
                                                            ("device-h", "right"), ("gross", "right"),
                                                            ("share", "right"), ("commission", "right")],
               [[x.period, x.node or "-", x.model, x.site, x.leases, f"{x.device_hours:.4f}", f"{x.gross:f}",
                 f"{x.supplier_share:f}", f"{x.commission:f}"] for x in st.lines],
               caption=f"gross {st.gross:f} = share {st.supplier_share:f} + commission {st.commission:f}; "
                       f"payable now {st.payable_balance:f}"),
         table("per node (issued)", ["period", "node", ("device-h", "right"), ("gross", "right"), ("share", "right"),
                                     ("commission", "right")],
               [[x.period, x.node or "-", f"{x.device_hours:.4f}", f"{x.gross:f}", f"{x.supplier_share:f}",
                 f"{x.commission:f}"] for x in st.nodes]))
    pv = st.provisional
    if pv is not None and pv.lines:
        show(table(f"PROVISIONAL {pv.period} (not issued yet; as of {pv.as_of:%Y-%m-%d %H:%M} UTC)",
                   ["node", "model", "site", ("device-h", "right"), ("gross", "right"), ("share", "right"),
                    ("commission", "right")],
                   [[x.node or "-", x.model, x.site, f"{x.device_hours:.4f}", f"{x.gross:f}",
                     f"{x.supplier_share:f}", f"{x.commission:f}"] for x in pv.lines],
                   caption=f"provisional share {pv.supplier_share:f} from {pv.tenants} tenant draft(s); {pv.note}"))


@statement_app.command("revenue")
def statement_revenue(ctx: typer.Context, period: PeriodOpt = None, as_json: JsonOpt = False) -> None:
    """The operator's revenue report for a month (or all time): charges, split into what ran on suppliers'
    nodes (their share + commission) and the operator's own revenue (lines with no node: tokens from a
    gateway, storage, fees), then vouchers, credits, wallet, amount due and the ledger sum."""
    with client(ctx) as api:
        r = MoneyClient(api).revenue_report(period)
    if as_json:
        print_json(r)
        return
    rows = [["invoices", str(r.invoices)], ["charges", str(r.charges)],
            ["  on suppliers' nodes", str(r.supplier_gross)],
            ["    supplier share", str(r.supplier_share)], ["    commission", str(r.supplier_commission)],
            ["  operator's own revenue (no node)", str(r.operator_own)],
            *[[f"    {k}", str(v)] for k, v in r.operator_own_by.items()],
            ["operator total (commission + own)", str(r.commission)]]
    rows += [[k, str(getattr(r, k))] for k in ("vouchers", "credits", "wallet", "amount_due", "ledger_sum")]
    show(table(f"revenue {r.period or 'all'} ({r.currency})", ["figure", ("value", "right")], rows))


# -- billed invoices (added to ``suanli invoice``) ---------------------------------------------------


def invoice_list(ctx: typer.Context, tenant: TenantOpt = None, period: PeriodOpt = None,
                 status: str | None = None, as_json: JsonOpt = False) -> None:
    """Issued invoices (a tenant sees its own)."""
    with client(ctx) as api:
        rows = MoneyClient(api).invoices(tenant=tenant, period=period, status=status)
    if as_json:
        print_json(rows)
        return
    invoices_out(rows)


def _billed_out(inv: Any, as_json: bool) -> None:
    if as_json:
        print_json(inv)
        return
    invoice_out(inv)


def invoice_issue(ctx: typer.Context, tenant: str, period: Annotated[str, typer.Option("--period")],
                  voucher: Annotated[list[str] | None, typer.Option("--voucher", help="Apply only these.")] = None,
                  as_json: JsonOpt = False) -> None:
    """Issue a tenant's invoice for a month that is over (operator)."""
    with client(ctx) as api:
        _billed_out(MoneyClient(api).issue_invoice(tenant, period, voucher or None), as_json)


def invoice_get(ctx: typer.Context, invoice_id: str, as_json: JsonOpt = False) -> None:
    """One issued invoice with its lines."""
    with client(ctx) as api:
        _billed_out(MoneyClient(api).billed_invoice(invoice_id), as_json)


def invoice_export(ctx: typer.Context, invoice_id: str,
                   fmt: Annotated[str, typer.Option("--format", help="csv, json or html (printable).")] = "csv",
                   output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
                   lang: Annotated[str, typer.Option("--lang", help="en (default) or zh-CN.")] = "en",
                   ) -> None:
    """Export an invoice as CSV, JSON or printable HTML (in English or Chinese: ``--lang zh-CN``)."""
    if fmt not in ("csv", "json", "html"):
        raise typer.BadParameter("allowed: csv, json, html", param_hint="--format")
    with client(ctx) as api:
        text = MoneyClient(api).export_invoice(invoice_id, fmt, lang)
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text)


def invoice_pay(ctx: typer.Context, invoice_id: str,
                from_wallet: Annotated[bool, typer.Option(
                    "--from-wallet", help="Pay it out of the tenant's wallet balance (a tenant's admin or finance "
                    "member: its own invoice; all or nothing, refused when the balance is short).")] = False,
                as_json: JsonOpt = False) -> None:
    """Pay an invoice: what is outstanding is the amount due of an issued invoice and every unpaid debit
    note on it (on a paid invoice: its unpaid debit notes). Without --from-wallet: record it as received
    (operator); with --from-wallet: take it from the tenant's wallet balance."""
    with client(ctx) as api:
        mc = MoneyClient(api)
        _billed_out(mc.pay_from_wallet(invoice_id) if from_wallet else mc.pay_invoice(invoice_id), as_json)


def invoice_void(ctx: typer.Context, invoice_id: str, reason: str = "", as_json: JsonOpt = False) -> None:
    """Void an unpaid invoice (operator): every entry reversed."""
    with client(ctx) as api:
        _billed_out(MoneyClient(api).void_invoice(invoice_id, reason), as_json)


def invoice_credit(ctx: typer.Context, invoice_id: str, value: Annotated[str, typer.Argument(metavar="AMOUNT")],
                   reason: Annotated[str, typer.Option("--reason")], as_json: JsonOpt = False) -> None:
    """Give a credit note on an invoice (operator)."""
    with client(ctx) as api:
        _billed_out(MoneyClient(api).credit_note(invoice_id, amount(value, "AMOUNT"), reason), as_json)


def invoice_debit(ctx: typer.Context, invoice_id: str, value: Annotated[str, typer.Argument(metavar="AMOUNT")],
                  reason: Annotated[str, typer.Option("--reason", help="Why (required; printed on the invoice).")],
                  as_json: JsonOpt = False) -> None:
    """Bill a tenant more on an issued invoice: a debit note, the operator's own revenue, owed until
    ``suanli invoice pay`` collects it (operator)."""
    with client(ctx) as api:
        _billed_out(MoneyClient(api).debit_note(invoice_id, amount(value, "AMOUNT"), reason), as_json)

"""How an invoice document is printed in the terminal: one renderer for the draft (``suanli invoice
show`` of a month not issued) and for issued invoices (``invoice show`` of an issued month, ``get``,
``issue``, ``pay``, ``void``, ``credit``), so the same number prints the same way on both.

Amounts are written by :func:`suanli.domain.money.money_text` (the currency's places, thousands
grouped: ``1,870.37``), as the HTML export writes them; ``--json`` prints the wire document.
"""

from __future__ import annotations

from decimal import Decimal

from suanli.api.schemas.money import InvoiceDocument, InvoiceSummary
from suanli.cli.render import dec, show, table, when
from suanli.domain.money import money_text


def money(value: Decimal | None, currency: str) -> str:
    """An amount for people: the currency's places, grouped; ``-`` for none."""
    return "-" if value is None else money_text(value, currency, grouped=True)


def invoice_out(inv: InvoiceDocument) -> None:
    """The document as a table of lines, then its totals, rounding rule, credit notes and SLA credits."""
    cur = inv.currency
    split = any(x.supplier_share is not None for x in inv.lines)  # the operator's view
    cols: list[str | tuple[str, str]] = ["#", "kind", "meter", "model", "site", "lease", ("quantity", "right"),
                                         "unit", ("unit price", "right"), ("amount", "right")]
    if split:
        cols += [("supplier share", "right"), ("commission", "right")]
    rows = [[x.line_no + 1, x.kind, x.meter, x.model, x.site, x.lease, dec(x.quantity, 4), x.price_unit,
             dec(x.unit_price, 4), money(x.amount, cur),
             *([money(x.supplier_share, cur), money(x.commission, cur)] if split else [])] for x in inv.lines]
    state = "draft" if inv.id is None else f"{inv.status} {inv.id}"
    when_s = f"as of {when(inv.as_of)}" if inv.id is None else f"issued {when(inv.issued_at)}"
    if inv.paid_at is not None:
        when_s += f", paid {when(inv.paid_at)}"
    if inv.voided_at is not None:
        when_s += f", voided {when(inv.voided_at)}"
    show(table(f"invoice {inv.tenant} {inv.period} ({cur}) [{state}]", cols, rows,
               caption=f"{when_s}; {len(inv.lines)} lines; {inv.records} usage records"),
         f"subtotal {money(inv.subtotal, cur)} {cur}; tax {money(inv.tax, cur)} {cur}",
         f"total {money(inv.total, cur)} {cur}",
         *([f"− credit notes {money(inv.credit_notes_total, cur)} + debit notes {money(inv.debit_notes_total, cur)}"
            f" = balance after notes {money(inv.balance_after_notes, cur)} {cur} (the issued total is unchanged)"]
           if inv.notes else []),
         f"− vouchers {money(inv.vouchers, cur)} − credits {money(inv.credits, cur)} − wallet "
         f"{money(inv.wallet, cur)} = amount due {money(inv.amount_due, cur)} {cur}",
         *([f"outstanding (what pay collects) {money(inv.outstanding, cur)} {cur}"] if inv.notes else []),
         f"rounding: {inv.rounding}",
         *[f"{n.kind} note {n.id}: {money(n.amount, cur)} {cur} — {n.reason} (by {n.by or '-'}, {when(n.at)}"
           + (f"; correction {n.correction}" if n.correction else "")
           + ("" if n.kind == "credit" else f"; paid {when(n.paid_at)}" if n.paid_at else "; unpaid") + ")"
           for n in inv.notes],
         *[f"credit note {n.id}: {money(n.amount, cur)} {cur} to the {'wallet' if n.to_wallet else 'amount due'} "
           f"({n.reason}; {when(n.at)})" for n in inv.credit_notes],
         *[f"voucher {u.voucher} on line {u.line_no + 1}: {u.outcome} {money(u.amount, cur)} {cur}"
           + (f" ({u.rule})" if u.rule else "") for u in inv.voucher_uses],
         *[f"SLA credit {c.id}: {money(c.amount, cur)} {cur} for lease {c.lease} ({c.reason}; {c.seconds} s lost, "
           f"from {c.start:%Y-%m-%d %H:%M} UTC) — included in credits" for c in inv.sla_credits])


def invoices_out(rows: list[InvoiceSummary]) -> None:
    show(table("invoices", ["id", "tenant", "period", "status", ("total", "right"), ("due", "right"), "currency",
                            "issued"],
               [[x.id, x.tenant, x.period, x.status, money(x.total, x.currency), money(x.amount_due, x.currency),
                 x.currency, when(x.issued_at)] for x in rows]))

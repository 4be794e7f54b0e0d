"""Invoice and audit exports: CSV, and a printable HTML invoice (no external assets)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from suanli.domain.money import money_text
from suanli.service.billing import EXPORT_TOTALS, NOTE_TOTALS, TOTALS

LINE_COLUMNS = ("line_no", "kind", "meter", "model", "site", "supplier", "lease", "plan", "package", "start", "end",
                "quantity", "price_unit", "unit_price", "amount", "records", "usage_period", "description")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return format(v, "f")
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def rows_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


AMOUNTS = frozenset({"amount", "supplier_share", "commission", *TOTALS, *NOTE_TOTALS})
"""The money columns of an invoice export: written by :func:`suanli.domain.money.money_text` in the
invoice's currency (``48.00``), exactly as the JSON document and the terminal write them."""


def _line_cells(x: Mapping[str, Any], currency: str) -> dict[str, str]:
    return {k: money_text(v, currency) if k in AMOUNTS and v is not None else _cell(v) for k, v in x.items()}


def note_text(n: Mapping[str, Any]) -> str:
    """A note in words: ``dn_… late fee (by operator; correction pc_…; paid 2026-12-03T…)``."""
    extra = [f"by {n['by'] or '-'}", *([f"correction {n['correction']}"] if n["correction"] else []),
             *([f"paid {_cell(n['paid_at'])}"] if n.get("paid_at") else [])]
    return f"{n['id']} {n['reason']} ({'; '.join(extra)})"


def invoice_csv(doc: Mapping[str, Any]) -> str:
    """One row per line, then one per credit or debit note (kind ``credit_note``/``debit_note``, ``start``
    when, ``description`` its id, reason, who and correction), then the totals as rows with kind
    ``total`` (a draft's ``invoice`` is empty)."""
    c = doc["currency"]
    ref = doc["id"] or ""
    rows = [{"invoice": ref, **_line_cells(x, c)} for x in doc["lines"]]
    rows += [{"invoice": ref, "kind": f"{n['kind']}_note", "start": _cell(n["at"]), "amount": money_text(n["amount"], c),
              "description": note_text(n)} for n in doc["notes"]]
    for key in EXPORT_TOTALS:
        rows.append({"invoice": ref, "kind": "total", "description": key, "amount": money_text(doc[key], c)})
    return rows_csv(rows, ("invoice", *LINE_COLUMNS))


def invoice_html(doc: Mapping[str, Any]) -> str:
    """A printable invoice (or draft): amounts grouped (``1,870.37``) in the invoice's currency."""
    e = html.escape
    c = doc["currency"]

    def m(v: Decimal) -> str:
        return e(money_text(v, c, grouped=True))

    lines = "".join(
        f"<tr><td>{x['line_no'] + 1}</td><td>{e(x['kind'])}</td><td>{e(x['meter'])}</td><td>{e(x['model'])}</td>"
        f"<td>{e(x['site'])}</td><td>{e(x['lease'])}</td><td>{e(_cell(x['start']))[:19]}</td>"
        f"<td class=n>{e(_cell(x['quantity']))}</td><td>{e(x['price_unit'])}</td>"
        f"<td class=n>{e(_cell(x['unit_price']))}</td><td class=n>{m(x['amount'])}</td></tr>"
        for x in doc["lines"])
    totals = "".join(f"<tr><th colspan=10>{e(k.replace('_total', 's').replace('_', ' '))}</th>"
                     f"<td class=n>{m(doc[k])} {e(c)}</td></tr>" for k in EXPORT_TOTALS)
    notes = "".join(f"<tr><td>{e(n['kind'])} note</td><td>{e(_cell(n['at']))[:19]}</td><td colspan=8>"
                    f"{e(note_text(n))}</td><td class=n>{m(n['amount'])}</td></tr>" for n in doc["notes"])
    draft = doc["id"] is None
    title = f"Draft invoice {doc['tenant']} {doc['period']}" if draft else f"Invoice {doc['id']}"
    when = f"as of {e(_cell(doc['as_of']))[:19]}" if draft else f"issued {e(_cell(doc['issued_at']))[:19]}"
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>
<style>body{{font:13px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ccc;padding:4px;text-align:left}}.n{{text-align:right}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>{e(title)}</h1>
<p>Tenant <b>{e(doc['tenant'])}</b> · period {e(doc['period'])} · status {e(doc['status'])} ·
{when} · currency {e(c)}</p>
<table><thead><tr><th>#</th><th>kind</th><th>meter</th><th>model</th><th>site</th><th>lease</th><th>from</th>
<th class=n>quantity</th><th>unit</th><th class=n>unit price</th><th class=n>amount ({e(c)})</th></tr></thead>
<tbody>{lines}{notes}</tbody><tfoot>{totals}</tfoot></table>
<p>Each line is rounded once to 0.01, half up; totals are sums of lines.</p></body></html>"""

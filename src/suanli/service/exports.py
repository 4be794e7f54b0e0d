"""Invoice and audit exports: CSV, and a printable HTML invoice (no external assets)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

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


def invoice_csv(doc: Mapping[str, Any]) -> str:
    """One row per line, then the totals as rows with kind ``total``."""
    rows = [{"invoice": doc["id"], **x} for x in doc["lines"]]
    for key in ("subtotal", "tax", "total", "vouchers", "credits", "wallet", "amount_due"):
        rows.append({"invoice": doc["id"], "kind": "total", "description": key, "amount": doc[key]})
    return rows_csv(rows, ("invoice", *LINE_COLUMNS))


def invoice_html(doc: Mapping[str, Any]) -> str:
    e = html.escape
    lines = "".join(
        f"<tr><td>{x['line_no'] + 1}</td><td>{e(x['kind'])}</td><td>{e(x['meter'])}</td><td>{e(x['model'])}</td>"
        f"<td>{e(x['site'])}</td><td>{e(x['lease'])}</td><td>{e(_cell(x['start']))[:19]}</td>"
        f"<td class=n>{e(_cell(x['quantity']))}</td><td>{e(x['price_unit'])}</td>"
        f"<td class=n>{e(_cell(x['unit_price']))}</td><td class=n>{e(_cell(x['amount']))}</td></tr>"
        for x in doc["lines"])
    totals = "".join(f"<tr><th colspan=10>{e(k.replace('_', ' '))}</th><td class=n>{e(_cell(doc[k]))}</td></tr>"
                     for k in ("subtotal", "tax", "total", "vouchers", "credits", "wallet", "amount_due"))
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>Invoice {e(doc['id'])}</title>
<style>body{{font:13px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ccc;padding:4px;text-align:left}}.n{{text-align:right}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>Invoice {e(doc['id'])}</h1>
<p>Tenant <b>{e(doc['tenant'])}</b> · period {e(doc['period'])} · status {e(doc['status'])} ·
issued {e(_cell(doc['issued_at']))[:19]} · currency {e(doc['currency'])}</p>
<table><thead><tr><th>#</th><th>kind</th><th>meter</th><th>model</th><th>site</th><th>lease</th><th>from</th>
<th class=n>quantity</th><th>unit</th><th class=n>unit price</th><th class=n>amount</th></tr></thead>
<tbody>{lines}</tbody><tfoot>{totals}</tfoot></table>
<p>Each line is rounded once to 0.01, half up; totals are sums of lines.</p></body></html>"""

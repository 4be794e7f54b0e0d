"""Invoice and audit exports: CSV, and a printable HTML invoice (no external assets), in English
(``en``, the default) or Chinese (``zh-CN``).

The HTML invoice carries the seller's and buyer's legal details (as the invoice was issued with;
a draft: as now), the lines with their product type, the tax per rate, the totals and, on the
zh-CN document of a CNY invoice, the total in capitals (价税合计大写, :func:`suanli.domain.rmb.rmb_upper`).
Its times are in the operator's time zone (``SUANLI_TIME_ZONE``). The CSV has one header per
language (the columns and their order are the same); its times stay ISO-8601 UTC for machines.
It is the statement the VAT 发票 is issued from (through the tax authority's system), not the
发票 itself: the document says so.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from suanli.domain.legal import InvoiceType
from suanli.domain.money import money_text
from suanli.domain.rmb import rmb_upper
from suanli.domain.tax import ProductType, product_type
from suanli.errors import ValidationError
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


LANGS = ("en", "zh-CN")


def check_lang(lang: str) -> str:
    """``en`` or ``zh-CN`` (``zh`` and ``zh-cn`` are taken as ``zh-CN``), else a 422."""
    if lang in ("zh", "zh-cn", "zh-CN", "zh-Hans"):
        return "zh-CN"
    if lang in ("en", "en-US", "en-GB"):
        return "en"
    raise ValidationError(f"lang {lang[:20]!r} not allowed; allowed: {', '.join(LANGS)}", field="lang")


CSV_HEADERS_ZH = {"invoice": "发票号", "line_no": "序号", "kind": "类别", "meter": "计量项", "model": "型号",
                  "site": "站点", "supplier": "供应商", "lease": "租约", "plan": "价格计划", "package": "资源包",
                  "start": "开始(UTC)", "end": "结束(UTC)", "quantity": "数量", "price_unit": "计价单位",
                  "unit_price": "单价", "amount": "金额", "records": "记录数", "usage_period": "用量期间",
                  "description": "说明"}
"""The zh-CN CSV header, column by column (the columns and their order are the English ones)."""

TOTAL_NAMES = {
    "en": {"subtotal": "subtotal", "tax": "tax", "total": "total", "credit_notes_total": "credit notes",
           "debit_notes_total": "debit notes", "balance_after_notes": "balance after notes", "vouchers": "vouchers",
           "credits": "credits", "wallet": "wallet", "amount_due": "amount due", "outstanding": "outstanding"},
    "zh-CN": {"subtotal": "金额合计(不含税)", "tax": "税额合计", "total": "价税合计", "credit_notes_total": "贷记单合计",
              "debit_notes_total": "借记单合计", "balance_after_notes": "调整后金额", "vouchers": "算力券抵扣",
              "credits": "优惠抵扣", "wallet": "预付余额抵扣", "amount_due": "应付金额", "outstanding": "未付金额"},
}


def invoice_csv(doc: Mapping[str, Any], lang: str = "en") -> str:
    """One row per line, then one per credit or debit note (kind ``credit_note``/``debit_note``, ``start``
    when, ``description`` its id, reason, who and correction), then the totals as rows with kind
    ``total`` (a draft's ``invoice`` is empty), after one row per tax rate (kind ``tax_rate``: ``quantity``
    the rate, ``description`` its product types, ``amount`` its tax). ``lang`` zh-CN: the header, the
    totals' and product types' names in Chinese."""
    zh = check_lang(lang) == "zh-CN"
    c = doc["currency"]
    ref = doc["id"] or ""
    rows = [{"invoice": ref, **_line_cells(x, c)} for x in doc["lines"]]
    rows += [{"invoice": ref, "kind": f"{n['kind']}_note", "start": _cell(n["at"]), "amount": money_text(n["amount"], c),
              "description": note_text(n)} for n in doc["notes"]]
    for g in doc.get("taxes") or ():
        rows.append({"invoice": ref, "kind": "tax_rate", "quantity": _cell(g["rate"]),
                     "description": " ".join(_type_name(t, zh) for t in g["product_types"]),
                     "amount": money_text(g["tax"], c)})
    for key in EXPORT_TOTALS:
        rows.append({"invoice": ref, "kind": "total", "description": TOTAL_NAMES["zh-CN"][key] if zh else key,
                     "amount": money_text(doc[key], c)})
    text = rows_csv(rows, ("invoice", *LINE_COLUMNS))
    if zh:
        header, _, rest = text.partition("\n")
        text = ",".join(CSV_HEADERS_ZH[k] for k in header.split(",")) + "\n" + rest
    return text


def _type_name(value: str, zh: bool) -> str:
    t = ProductType(value)
    return t.zh if zh else t.value


L: dict[str, dict[str, Any]] = {
    "en": {"draft": "Draft invoice", "invoice": "Invoice", "tenant": "Tenant", "period": "period", "status": "status",
           "issued": "issued", "as_of": "as of", "currency": "currency", "seller": "Seller", "buyer": "Buyer",
           "name": "Name", "tax_id": "Tax ID (unified social credit code)", "foreign_tax_id": "Tax ID (foreign)",
           "address": "Address, phone", "bank": "Bank, account", "invoice_type": "Invoice type asked for",
           "not_set": "not set", "not_kept": "not kept (issued before legal profiles were recorded)",
           "cols": ("#", "kind", "meter", "model", "site", "lease", "from", "quantity", "unit", "unit price", "amount"),
           "product": "product type", "taxes": "Tax per rate", "rate": "rate", "base": "amount", "tax": "tax",
           "words": "Total in words", "rounding": "Each line is rounded once to 0.01, half up; totals are sums of "
           "lines; tax is rounded once per rate: round(sum of the rate's lines x rate).",
           "note": "This is the invoice statement; the VAT invoice (fapiao) is issued through the tax authority's "
                   "system with the details above.", "times": "Times in", "note_word": "note"},
    "zh-CN": {"draft": "发票(草稿)", "invoice": "发票", "tenant": "租户", "period": "账期", "status": "状态",
              "issued": "开具时间", "as_of": "截至", "currency": "币种", "seller": "销售方", "buyer": "购买方",
              "name": "名称", "tax_id": "纳税人识别号(统一社会信用代码)", "foreign_tax_id": "纳税人识别号(境外)",
              "address": "地址、电话", "bank": "开户行及账号", "invoice_type": "发票类型",
              "not_set": "未设置", "not_kept": "未记录(开具于记录开票信息之前)",
              "cols": ("序号", "类别", "计量项", "型号", "站点", "租约", "开始", "数量", "单位", "单价", "金额"),
              "product": "项目", "taxes": "税额(按税率)", "rate": "税率", "base": "金额", "tax": "税额",
              "words": "价税合计(大写)", "rounding": "每行金额四舍五入到 0.01 元,只舍入一次;合计为各行之和;"
              "税额按税率分组,每组舍入一次:round(该税率各行金额之和 × 税率)。",
              "note": "本单据为结算发票明细;增值税发票依上列开票信息通过税务系统开具。", "times": "时间为",
              "note_word": "通知单"},
}
STATUS_ZH = {"preview": "草稿", "issued": "已开具", "paid": "已支付", "void": "已作废"}


def _when(v: Any, tz: ZoneInfo | None) -> str:
    """An instant as people read it: ``2026-12-01 08:00:00`` in the operator's zone (UTC if none)."""
    if isinstance(v, datetime):
        return (v.astimezone(tz) if tz else v).strftime("%Y-%m-%d %H:%M:%S")
    return _cell(v)[:19]


def _party(p: Mapping[str, Any] | None, title: str, t: Mapping[str, Any], kept: bool, buyer: bool,
           zh: bool) -> str:
    e = html.escape
    if p is None:
        return f"<section class=party><h2>{e(title)}</h2><p>{e(t['not_set'] if kept else t['not_kept'])}</p></section>"
    rows = [(t["name"], p["legal_name"]),
            (t["foreign_tax_id"] if p.get("foreign_tax_id") else t["tax_id"], p["tax_id"]),
            (t["address"], " ".join(x for x in (p.get("address", ""), p.get("phone", "")) if x)),
            (t["bank"], " ".join(x for x in (p.get("bank_name", ""), p.get("bank_account", "")) if x))]
    if buyer:
        kind = InvoiceType(p.get("invoice_type") or "normal")
        rows.append((t["invoice_type"], kind.zh if zh else f"{kind.en} ({kind.zh})"))
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    return f"<section class=party><h2>{e(title)}</h2><table class=kv>{body}</table></section>"


def invoice_html(doc: Mapping[str, Any], lang: str = "en", time_zone: str | None = None) -> str:
    """A printable invoice (or draft): seller and buyer, lines, tax per rate, totals (and on a zh-CN
    CNY document the total in capitals); amounts grouped (``1,870.37``) in the invoice's currency;
    times in ``time_zone`` (the operator's; UTC when none is given)."""
    e = html.escape
    lang = check_lang(lang)
    zh = lang == "zh-CN"
    t = L[lang]
    tz = ZoneInfo(time_zone) if time_zone else None
    c = doc["currency"]

    def m(v: Decimal) -> str:
        return e(money_text(v, c, grouped=True))

    cols = t["cols"]
    lines = "".join(
        f"<tr><td>{x['line_no'] + 1}</td><td>{e(_type_name(product_type(x['kind'], x['meter']).value, zh))} "
        f"<small>{e(x['kind'])}</small></td><td>{e(x['meter'])}</td><td>{e(x['model'])}</td>"
        f"<td>{e(x['site'])}</td><td>{e(x['lease'])}</td><td>{e(_when(x['start'], tz))}</td>"
        f"<td class=n>{e(_cell(x['quantity']))}</td><td>{e(x['price_unit'])}</td>"
        f"<td class=n>{e(_cell(x['unit_price']))}</td><td class=n>{m(x['amount'])}</td></tr>"
        for x in doc["lines"])
    names = TOTAL_NAMES[lang]
    totals = "".join(f"<tr><th colspan=10>{e(names[k])}</th><td class=n>{m(doc[k])} {e(c)}</td></tr>"
                     for k in EXPORT_TOTALS)
    notes = "".join(f"<tr><td>{e(n['kind'])} {e(t['note_word'])}</td><td>{e(_when(n['at'], tz))}</td><td colspan=8>"
                    f"{e(note_text(n))}</td><td class=n>{m(n['amount'])}</td></tr>" for n in doc["notes"])
    taxes = doc.get("taxes") or []
    tax_rows = "".join(
        f"<tr><td class=n>{e(_percent(g['rate']))}</td><td>{e(', '.join(_type_name(x, zh) for x in g['product_types']))}"
        f"</td><td class=n>{m(g['base'])}</td><td class=n>{m(g['tax'])}</td></tr>" for g in taxes)
    tax_table = (f"<h2>{e(t['taxes'])}</h2><table class=tax><thead><tr><th class=n>{e(t['rate'])}</th>"
                 f"<th>{e(t['product'])}</th><th class=n>{e(t['base'])} ({e(c)})</th><th class=n>{e(t['tax'])} "
                 f"({e(c)})</th></tr></thead><tbody>{tax_rows}</tbody></table>") if taxes else ""
    words = (f"<p class=words>{e(t['words'])}: <b>{e(rmb_upper(doc['total']))}</b> "
             f"(¥{m(doc['total'])})</p>") if zh and c == "CNY" else ""
    draft = doc["id"] is None
    kept = bool(doc.get("legal_kept", True))
    title = f"{t['draft']} {doc['tenant']} {doc['period']}" if draft else f"{t['invoice']} {doc['id']}"
    when = (f"{t['as_of']} {_when(doc['as_of'], tz)}" if draft else f"{t['issued']} {_when(doc['issued_at'], tz)}")
    status = STATUS_ZH.get(str(doc["status"]), str(doc["status"])) if zh else str(doc["status"])
    zone = time_zone or "UTC"
    head = "".join(f"<th{' class=n' if i >= 7 and i != 8 else ''}>{e(x)}</th>" for i, x in enumerate(cols[:-1]))
    sep = "、" if zh else " · "
    return f"""<!doctype html><html lang={lang}><head><meta charset=utf-8><title>{e(title)}</title>
<style>body{{font:13px system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:4px;text-align:left}}
.n{{text-align:right;white-space:nowrap}}.parties{{display:flex;gap:2em}}.party{{flex:1}}table.kv th{{width:40%;font-weight:normal;color:#555}}
table.tax{{width:auto;min-width:50%}}.words b{{letter-spacing:.05em}}@media print{{body{{margin:0}}}}</style></head><body>
<h1>{e(title)}</h1>
<p>{e(t['tenant'])} <b>{e(doc['tenant'])}</b>{sep}{e(t['period'])} {e(doc['period'])}{sep}{e(t['status'])} {e(status)}{sep}
{e(when)}{sep}{e(t['currency'])} {e(c)}{sep}{e(t['times'])} {e(zone)}</p>
<div class=parties>{_party(doc.get('seller'), t['seller'], t, kept, False, zh)}
{_party(doc.get('buyer'), t['buyer'], t, kept, True, zh)}</div>
<table><thead><tr>{head}<th class=n>{e(cols[-1])} ({e(c)})</th></tr></thead>
<tbody>{lines}{notes}</tbody><tfoot>{totals}</tfoot></table>
{tax_table}{words}
<p>{e(t['rounding'])}</p><p><small>{e(t['note'])}</small></p></body></html>"""


def _percent(rate: Any) -> str:
    """A rate as a percentage: ``0.06`` -> ``6%``, ``0.0325`` -> ``3.25%``."""
    d = (Decimal(str(rate)) * 100).normalize()
    return f"{d:f}%"

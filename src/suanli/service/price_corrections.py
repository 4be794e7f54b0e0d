"""Price corrections: the operator changes what a price *was* over a past window, with a reason.

A list price is effective now or later (:mod:`suanli.service.prices`); the past changes only here.
:func:`correct_price`, in one transaction:

1. stores the correction (who, when, reason, window, new price, the prices it replaces) in
   ``price_corrections``: from then on the price book applies it (:class:`PriceBook`), so every
   month **not issued yet** is rated with the corrected price, second by second;
2. for every **issued** (or paid) invoice of the window's months and later ones, rates the
   invoice's records again twice — with the book before and after the correction — from the same
   records: the usage events it billed and the lease time re-metered with pieces cut at the
   correction's bounds too (and at every instant the issued pieces started). Packages are taken
   as they stood when the invoice was issued. The difference of the two ratings, per line
   (:func:`suanli.ledger.notes.line_differences`), with each line's supplier share and commission
   split as the line is, becomes a **credit note** (lines that went down; to the tenant's wallet)
   and/or a **debit note** (lines that went up; owed like an invoice), each with the reason, on the
   ledger (:func:`suanli.ledger.notes.note_entry`), stored in ``price_correction_notes``.

Issued invoices are never edited. A window must lie in the past (``to`` <= now): a price from
now on is a list price (``suanli price set``). Operator only.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize, sees_revenue_split
from suanli.domain.money import check_amount, check_currency
from suanli.domain.prices import (
    CorrectionNote,
    CorrectionRecord,
    PriceBook,
    PriceCorrection,
    PriceUnit,
    device_hour_price,
)
from suanli.domain.tax import ProductType
from suanli.errors import NotFoundError, ValidationError
from suanli.ledger.metering import LEASE_SOURCE
from suanli.ledger.notes import LineDifference, line_differences, note_entry
from suanli.ledger.rating import month_of, period_bounds, rate
from suanli.service import billing
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import accounts as account_store
from suanli.store import fleet as fleet_store
from suanli.store import ledger as ledger_store
from suanli.store import legal as legal_store
from suanli.store import price_corrections as store
from suanli.store import usage as usage_store
from suanli.store.price_corrections import IssuedInvoice

MAX_REASON = 1000


def _old_prices(book: PriceBook, model: str, site: str | None, start: datetime, end: datetime
                ) -> list[dict[str, str | None]]:
    """The list prices and earlier corrections in force for ``model`` (at ``site``) somewhere in the window."""
    out: list[dict[str, str | None]] = []
    entries = sorted((e for e in book.entries if e.model == model and (site is None or e.site in (None, site))),
                     key=lambda e: (e.site or "", e.effective_from))
    for i, e in enumerate(entries):
        nxt = entries[i + 1] if i + 1 < len(entries) and entries[i + 1].site == e.site else None
        until = nxt.effective_from if nxt else None
        if e.effective_from < end and (until is None or until > start):
            out.append({"site": e.site, "from": e.effective_from.isoformat(),
                        "to": until.isoformat() if until else None, "amount": str(e.amount), "unit": e.unit.value,
                        "correction": None})
    for c in book.corrections:
        if c.model == model and (site is None or c.site in (None, site)) and c.start < end and c.end > start:
            out.append({"site": c.site, "from": c.start.isoformat(), "to": c.end.isoformat(), "amount": str(c.amount),
                        "unit": c.unit.value, "correction": c.id})
    return out


def _rerate(p: Platform, s: Session, invoice: IssuedInvoice, old: PriceBook, new: PriceBook, now: datetime
            ) -> list[LineDifference]:
    """The per-line difference between rating ``invoice``'s records with ``new`` and with ``old``."""
    who = account_store.get_account(s, invoice.tenant_id)
    inp, _n = billing._rating(p, s, who, invoice.period, now, store_leases=False)
    start, end = period_bounds(invoice.period)
    stored = usage_store.events_for(s, invoice.tenant_id, invoice.period)
    pieces = {r.time for r in stored if r.source == LEASE_SOURCE}
    cuts = sorted({t for t in [*pieces, *new.instants()] if start < t < end})
    leased, _stops, _commission = billing.lease_usage(s, invoice.tenant_id, start, end, now, cuts)
    records = [r for r in stored if r.source != LEASE_SOURCE] + leased
    later = store.draws_since(s, [x.id for x in inp.packages], invoice.issued_at)
    packages = [replace(x, used=x.used - later[x.id]) for x in inp.packages]
    base = replace(inp, records=records, sums=(), packages=packages, currency=invoice.currency, final=True)
    return line_differences(rate(replace(base, book=old)).lines, rate(replace(base, book=new)).lines)


def correct_price(p: Platform, actor: Principal, model: str, amount: Any, start: datetime, end: datetime,
                  reason: str, *, site: str | None = None, unit: str = "device_hour") -> dict[str, Any]:
    """Correct the price of ``model`` (at ``site``, else every site) over the past window
    ``[start, end)`` to ``amount``; issue credit/debit notes for issued invoices (module docstring)."""
    authorize(actor, Action.CORRECT_PRICE)
    try:
        u = PriceUnit(unit)
    except ValueError:
        raise ValidationError(f"price unit {unit!r} not allowed; allowed: device_hour, p_year", field="unit") from None
    value = check_amount(amount, "amount")
    why = (reason or "").strip()
    if not why or len(why) > MAX_REASON or "\x00" in why:
        raise ValidationError(f"a price correction needs a reason (1 to {MAX_REASON} characters, no NUL); it is "
                              "printed on every note it issues", field="reason")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("from and to need a time zone (UTC when written without one)", field="from")
    now = p.clock.now()
    if end <= start:
        raise ValidationError(f"the window must end after it starts (from {start.isoformat()}, to {end.isoformat()})",
                              field="to")
    if end > now:
        raise ValidationError(f"to {end.isoformat()} is in the future (now is {now.isoformat()}): a correction "
                              "fixes the past; set a list price for now or later with `suanli price set`",
                              field="to", now=now.isoformat())
    cur = check_currency(p.settings.currency)
    tax_rate = Decimal(p.settings.tax_rate)
    with p.tx() as s:
        store.lock_price_book(s, exclusive=True)  # invoices being issued finish first, later ones see it
        m = p.catalog(s).get(model)
        if site is not None and site not in {x.name for x in fleet_store.list_sites(s)}:
            raise NotFoundError(f"no site {site!r}", site=site)
        old = price_book(p, s)
        corr = PriceCorrection("pc_" + secrets.token_hex(6), m.name, site, u, value, cur, start, end, now, why,
                               store.next_seq(s))
        new = old.with_correction(corr)
        store.add_correction(s, corr, actor.account_id, actor.name, _old_prices(old, m.name, site, start, end))
        notes: list[CorrectionNote] = []
        for invoice in store.live_invoices_from(s, month_of(start), model=m.name, window=(start, end)):
            diffs = _rerate(p, s, invoice, old, new, now)
            for kind, part in (("credit", [d for d in diffs if d.amount < 0]),
                               ("debit", [d for d in diffs if d.amount > 0])):
                if not part:
                    continue
                note_id = ("cn_" if kind == "credit" else "dn_") + secrets.token_hex(6)
                # the compute rate the invoice was issued with (a price corrects device time), else the default
                rate = legal_store.kept_rate(s, invoice.id, ProductType.COMPUTE)
                t = note_entry(kind, invoice.tenant_id, invoice.id, note_id, now, part,
                               tax_rate=tax_rate if rate is None else rate,
                               reason=f"price correction {corr.id}: {why}", currency=invoice.currency)
                (entry_id,) = ledger_store.add_entries(s, [billing.entry_values(t.entry)])
                note = CorrectionNote(note_id, corr.id, invoice.id, invoice.tenant_id, kind, t.amount, t.tax, t.total,
                                      t.supplier_share, t.commission, kind == "credit",
                                      tuple(d.as_dict() for d in part), why, now)
                store.add_note(s, note, entry_id)
                notes.append(note)
        record = CorrectionRecord(corr, actor.account_id, actor.name,
                                  tuple(_old_prices(old, m.name, site, start, end)), tuple(notes))
        names = {invoice_tenant: account_store.get_account(s, invoice_tenant).name
                 for invoice_tenant in {n.tenant_id for n in notes}}
        return correction_doc(record, m, names)


def correction_doc(r: CorrectionRecord, model: Any, names: dict[str, str], *, split: bool = True) -> dict[str, Any]:
    """A correction as the wire shows it; ``split``: with the supplier share and commission of its notes
    (the operator's view; a tenant sees what it is credited or debited)."""
    c = r.correction
    hidden = () if split else ("supplier_share", "commission")
    return {
        "id": c.id, "model": c.model, "site": c.site, "unit": c.unit.value, "amount": c.amount,
        "device_hour": device_hour_price(c.amount, c.unit, model), "currency": c.currency, "from": c.start,
        "to": c.end, "reason": c.reason, "by": r.actor_name, "at": c.at, "old_prices": list(r.old_prices),
        "notes": [{"id": n.id, "kind": n.kind, "invoice": n.invoice_id, "tenant": names.get(n.tenant_id, n.tenant_id),
                   "amount": n.amount, "tax": n.tax, "total": n.total,
                   **({"supplier_share": n.supplier_share, "commission": n.commission} if split else {}),
                   "to_wallet": n.to_wallet, "at": n.at,
                   "lines": [{k: v for k, v in x.items() if k not in hidden} for x in n.lines]}
                  for n in r.notes],
    }


def list_corrections(p: Platform, actor: Principal, model: str | None = None) -> list[dict[str, Any]]:
    """Every price correction, oldest first, with who made it, why, and the notes it issued. A tenant
    sees only the corrections that issued notes on its own invoices, and only those notes, without
    the supplier/commission split."""
    grant = authorize(actor, Action.READ_PRICE_CORRECTIONS)
    tenant_id = grant.tenant_id
    with p.tx() as s:
        cat = p.catalog(s)
        name = cat.get(model).name if model else None
        records = store.correction_records(s, model=name, tenant_id=tenant_id)
        if tenant_id is not None:
            records = [r for r in records if r.notes]
        tenants = {n.tenant_id for r in records for n in r.notes}
        names = {t: account_store.get_account(s, t).name for t in tenants}
        split = sees_revenue_split(actor)
        return [correction_doc(r, cat.get(r.correction.model), names, split=split) for r in records]

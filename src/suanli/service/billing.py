"""Billing: rate a tenant's month from metered usage, issue it as an invoice on the ledger, and
take it through paid / void and credit notes.

Issuing an invoice for a month that is over, in one transaction:

1. meter the tenant's lease time of the month into ``usage_events`` (source ``suanli/leases``,
   deterministic ids: issuing twice meters nothing twice);
2. load the usage events billing on the month (its own, and late events of closed months): summed
   in the database, but the kinds a term contract or package draws down, which come one by one
   (:mod:`suanli.ledger.rating` says why that gives the same lines);
3. rate them (:func:`suanli.ledger.rating.rate`): plans, list prices, packages, true-ups;
4. settle (:func:`suanli.ledger.invoices.settle`): vouchers, credits, wallet, amount due;
5. store the invoice, its lines, voucher uses and refusals, package draws and ledger entries.

A preview (:func:`preview`) does 1–4 without writing, to date for the current month: it is the
draft of the invoice that will be issued, and the only to-date view of a tenant's month (served as
``GET /v1/billing/preview/{period}``). ``GET /v1/invoices/{period}`` (``suanli invoice show``,
:func:`month_invoice`) is the issued invoice once the month is issued, the draft until then.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, Grant, authorize, sees_revenue_split
from suanli.domain.invoices import (
    STORED_STATUSES,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceNote,
    InvoiceStatus,
    SlaCredit,
    VoucherOutcome,
    balance_after_notes,
    outstanding,
)
from suanli.domain.leases import LeaseState, ProductForm
from suanli.domain.legal import SELLER, LegalProfile
from suanli.domain.money import check_amount, minor
from suanli.domain.tax import TaxGroup, rates_at
from suanli.errors import ConflictError, NotFoundError, ValidationError
from suanli.ledger import invoices as inv
from suanli.ledger.metering import LEASE_SOURCE, active_intervals, lease_records, legacy_key
from suanli.ledger.meters import UsageRecord
from suanli.ledger.plans import DEFAULT_TENANT
from suanli.ledger.postings import Entry, credit, wallet
from suanli.ledger.rating import (
    ChargeLine,
    Rated,
    RatingInput,
    cuts,
    drawn_kinds,
    period_bounds,
    rate,
)
from suanli.ledger.sla import SlaPart, sla_entry, split_credit
from suanli.ledger.terms import FEE_REF_PREFIX
from suanli.ledger.vouchers import RULE_TEXT, Voucher
from suanli.service import quotes as quote_service
from suanli.service import reservations, shapes_billing, voucher_rules
from suanli.service.plan_rows import plan_from_row
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.service.usage import store_records
from suanli.store import accounts as account_store
from suanli.store import billing as store
from suanli.store import fleet as fleet_store
from suanli.store import invoice_notes as note_store
from suanli.store import leases as lease_store
from suanli.store import ledger as ledger_store
from suanli.store import legal as legal_store
from suanli.store import packages as package_store
from suanli.store import price_corrections as correction_store
from suanli.store import usage as usage_store

ZERO = Decimal("0.00")


def cents(d: Decimal) -> Decimal:
    """A stored amount (already whole cents) with exactly two places, on SQLite and PostgreSQL alike."""
    return d.quantize(Decimal("0.01"))


def entry_values(e: Entry) -> tuple[str, str, datetime, str, str, list[tuple[str, Decimal]]]:
    return (e.kind, e.ref, e.at, e.memo, e.currency, [(x.account, x.amount) for x in e.postings])


def resolve_tenant(s: Session, grant: Grant, tenant: str | None) -> Principal:
    """The tenant a request is about: a tenant itself (naming another answers 404); the operator
    names one (by name or id)."""
    if grant.own_tenant(tenant):
        return grant.actor.as_tenant()  # a member acts for its organisation
    if not tenant:
        raise ValidationError("the operator must name the tenant (tenant=NAME)", field="tenant")
    who = account_store.get_account(s, tenant)
    if who.role is not Role.TENANT:
        raise ValidationError(f"{tenant!r} is a {who.role.value}, not a tenant", field="tenant")
    if who.organisation is not None:  # a member's objects are its organisation's
        raise ValidationError(f"{tenant!r} is a member of organisation {who.organisation_name!r}; name the "
                              "organisation", field="tenant")
    return who


def lease_usage(s: Session, tenant_id: str, start: datetime, end: datetime, now: datetime,
                cuts: Sequence[datetime] = ()) -> tuple[list[UsageRecord], dict[str, datetime], dict[str, Decimal]]:
    """Lease time of the tenant in [start, end) as records; interruption instants; commission per lease.
    Pieces are cut at every hour and at every instant of ``cuts`` (the list-price changes: the price in
    force at each second applies, so a change at 08:49:31 starts a piece at 08:49:31)."""
    records: list[UsageRecord] = []
    stops: dict[str, datetime] = {}
    commission: dict[str, Decimal] = {}
    # a term's reservation is not metered: its fee pays for the devices; the leases drawn on it meter
    leases = [x for x in lease_store.list_leases(s, tenant_id=tenant_id, overlapping=(start, end), now=now)
              if x.form is not ProductForm.RESERVATION]  # as they are now: a term over ended at its end
    # each piece goes to the supplier that owned its node then (cut where a node changes owner)
    owners = fleet_store.owners(s, {a.node for x in leases for a in x.allocations})
    for lease in leases:
        events = [(e["at"], e["from"], e["to"]) for e in lease_store.lease_events(s, lease.id, now=now)]
        records += lease_records(lease, active_intervals(lease, events, min(now, end)), start, end, cuts,
                                 owners=owners)
        commission[lease.id] = lease.commission_rate
        # an interruption the lease never came back from (still interrupted, or ended by it as a spot
        # lease is): nothing from that instant on is billed, not even a late agent event stamped later
        stop: datetime | None = None
        for at, _f, to in sorted(events, key=lambda e: e[0]):
            if to == LeaseState.INTERRUPTED.value:
                stop = at
            elif to == LeaseState.ACTIVE.value:
                stop = None
        if stop is not None:
            stops[lease.id] = stop
    return records, stops, commission


def unmetered(stored: Sequence[UsageRecord], leased: Sequence[UsageRecord]) -> list[UsageRecord]:
    """The lease-time records not stored yet: neither under their own id, nor covered by a record
    metered before the node was part of the key (same lease, start, model, site, supplier; no node)."""
    if not leased:
        return []
    ids = {(r.source, r.id) for r in stored if r.source == LEASE_SOURCE}
    legacy = {legacy_key(r) for r in stored if r.source == LEASE_SOURCE and not r.node}
    # a stored piece covers the rest of its hour: a piece that a later cut (a price correction's
    # bound) starts inside it is not new time (pieces never cross an hour)
    began: dict[tuple[str, str, str, str], list[tuple[datetime, str]]] = {}
    for r in stored:
        if r.source == LEASE_SOURCE:
            began.setdefault((r.lease, r.model, r.site, r.supplier), []).append((r.time, r.node))

    def inside(r: UsageRecord) -> bool:
        hour = r.time.replace(minute=0, second=0, microsecond=0)
        return any(t < r.time and t.replace(minute=0, second=0, microsecond=0) == hour and (not n or n == r.node)
                   for t, n in began.get((r.lease, r.model, r.site, r.supplier), ()))

    return [r for r in leased
            if (r.source, r.id) not in ids and legacy_key(r) not in legacy and not inside(r)]


@dataclass(frozen=True)
class PendingSla:
    """A closed SLA credit not on the ledger yet, with who bears it and the entry that posts it."""

    credit: SlaCredit
    parts: list[SlaPart]
    entry: Entry


def pending_sla(p: Platform, s: Session, tenant_id: str, period_end: datetime, now: datetime) -> list[PendingSla]:
    """The tenant's closed SLA credits for interruptions before ``period_end`` not yet posted: each
    becomes a credit on the next invoice issued (:mod:`suanli.ledger.sla` says who bears it)."""
    credits = store.unposted_sla_credits(s, tenant_id, period_end)
    if not credits:
        return []
    book = price_book(p, s)
    out = []
    for row in credits:
        lease = lease_store.get_lease(s, row.lease_id)
        owners = fleet_store.owners(s, {a.node for a in lease.allocations})  # who owned the node then bears it
        weights = [(owners.at(a.node, row.start) or a.supplier, a.node,
                    a.share * (book.rate_at(a.model, a.site, row.start) or Decimal(0)))
                   for a in lease.allocations if a.end == row.start]
        amount = row.amount
        parts = split_credit(amount, weights, lease.commission_rate, row.currency)
        e = sla_entry(tenant_id, f"sla:{row.id}", now, amount, parts,
                      f"SLA credit {row.id} for lease {row.lease_id}: {row.reason}", row.currency)
        out.append(PendingSla(row, parts, e))
    return out


def sla_doc(row: SlaCredit, parts: Sequence[SlaPart] | Sequence[dict[str, Any]], actor: Principal
            ) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": row.id, "lease": row.lease_id, "start": row.start, "end": row.end,
                           "seconds": row.seconds, "amount": minor(row.amount, row.currency), "reason": row.reason}
    if sees_revenue_split(actor):
        doc["parts"] = [x if isinstance(x, dict) else _part_doc(x) for x in parts]
    return doc


def _part_doc(x: SlaPart) -> dict[str, Any]:
    return {"supplier": x.supplier, "node": x.node, "amount": str(x.amount), "supplier_share": str(x.supplier_share)}


@dataclass
class Draft:
    tenant: Principal
    period: str
    rated: Rated
    settlement: inv.Settlement
    records: int
    currency: str
    as_of: datetime
    """The instant the draft was rated at: usage after it (or after the month) is not in it."""
    sla: list[PendingSla]
    """SLA credits the invoice will post and spend (as credits)."""
    seller: LegalProfile | None = None
    buyer: LegalProfile | None = None
    """The legal profiles as they are now (the issued invoice keeps those of its issue)."""


def _rating(p: Platform, s: Session, who: Principal, period: str, now: datetime, *, store_leases: bool
            ) -> tuple[RatingInput, int]:
    start, end = period_bounds(period)
    tid = who.account_id
    book = price_book(p, s)
    quoted = quote_service.period_rates(s, tid, start, end)  # fixed-term leases and reservations: their quotes
    qcuts = quote_service.quote_starts(quoted)
    leased, stops, commission = lease_usage(s, tid, start, end, now,
                                            [t for t in [*book.instants(), *qcuts] if start < t < end])
    plans = [plan_from_row(r) for r in store.plans_for(s, [tid, DEFAULT_TENANT])]
    packages = package_store.packages_for(s, tid)
    # summed where the usage lives, but the kinds that a term contract or a package draws down in
    # time order: those are rated one by one, with the lease time not stored yet
    drawn = sorted((m.value, model) for m, model in drawn_kinds(tid, plans, packages))
    sums = usage_store.usage_sums(s, tid, period, cuts(tid, start, end, plans, book, stops, qcuts), without=drawn)
    one_by_one = usage_store.events_for(s, tid, period, kinds=drawn)
    metered = usage_store.events_for(s, tid, period, source=LEASE_SOURCE) if leased else []
    fresh = unmetered(metered, leased)
    records = one_by_one + fresh
    n = sum(x.records for x in sums) + len(records)
    named = ({x.lease for x in sums if x.lease} | {r.lease for r in records if r.lease}) - {k[0] for k in quoted}
    quoted |= quote_service.billing_rates(s, sorted(named))  # late usage of a bound lease of another month
    if store_leases and fresh:
        store_records(s, fresh, now)
    return RatingInput(
        tenant=tid, period_start=start, period_end=end, records=records, plans=plans, book=book,
        device_p={m.name: m.p for m in p.catalog(s)}, packages=packages, floors=fleet_store.floors_by_key(s),
        commission_rate=Decimal(p.settings.commission_rate), lease_commission=commission,
        currency=p.settings.currency, stops=stops, final=now >= end, sums=sums, lease_rates=quoted,
        held={pl.id: spans for pl in plans if (spans := reservations.held_spans(s, pl, now)) is not None}), n


def _vouchers(s: Session, tenant_id: str, *, lock: bool = False, on_issue: bool = True) -> list[Voucher]:
    """The tenant's vouchers (``lock``: their rows, so two invoices never spend one cap); ``on_issue``:
    only those an invoice applies when issued (a claim-then-redeem voucher is redeemed later)."""
    out = voucher_rules.tenant_vouchers(s, tenant_id, lock=lock)
    return voucher_rules.applied_on_issue(out) if on_issue else out


def _settle(p: Platform, s: Session, who: Principal, invoice_id: str, now: datetime, rated: Rated, currency: str,
            vouchers: list[Voucher], sla: Sequence[PendingSla] = ()) -> inv.Settlement:
    pending = sum((x.credit.amount for x in sla), ZERO)
    return inv.settle(who.account_id, invoice_id, now, rated.lines, vouchers=vouchers,
                      related=store.related_suppliers(s, who.account_id),
                      credit_balance=-ledger_store.balance(s, credit(who.account_id)) + pending,
                      wallet_balance=-ledger_store.balance(s, wallet(who.account_id)),
                      tax_rate=Decimal(p.settings.tax_rate), currency=currency,
                      tax_rates=rates_at(legal_store.tax_rates(s), now, Decimal(p.settings.tax_rate)),
                      voucher_context=voucher_rules.context(s, who.account_id, vouchers, now))


def preview(p: Platform, actor: Principal, period: str, tenant: str | None = None) -> Draft:
    """What the month's invoice would be now (to date for the current month); writes nothing."""
    grant = authorize(actor, Action.READ_INVOICES)
    now = p.clock.now()
    with p.read() as s:
        who = resolve_tenant(s, grant, tenant)
        inp, n = _rating(p, s, who, period, now, store_leases=False)
        rated = shapes_billing.with_resource_lines(s, inp, rate(inp), now)  # SHAPES: extras at resource prices
        sla = pending_sla(p, s, who.account_id, inp.period_end, now)
        st = _settle(p, s, who, "preview", now, rated, inp.currency, _vouchers(s, who.account_id), sla)
        seller, buyer = legal_store.get_profile(s, SELLER), legal_store.get_profile(s, who.account_id)
    return Draft(who, period, rated, st, n, inp.currency, now, sla, seller, buyer)


def issue_invoice(p: Platform, actor: Principal, tenant: str, period: str,
                  vouchers: Sequence[str] | None = None) -> dict[str, Any]:
    """Issue a tenant's invoice for a month that is over (operator only). ``vouchers``: apply only
    these (each must pay at least one line, else 422 naming the rule); default: every voucher."""
    grant = authorize(actor, Action.ISSUE_INVOICE)
    now = p.clock.now()
    _start, end = period_bounds(period)
    if end > now:
        raise ValidationError(f"period {period} is not over (it ends {end.isoformat()}); preview it with "
                              "GET /v1/billing/preview instead", field="period")
    with p.tx() as s:
        correction_store.lock_price_book(s, exclusive=False)  # never beside a price correction in flight
        who = resolve_tenant(s, grant, tenant)
        inp, n = _rating(p, s, who, period, now, store_leases=True)
        rated = shapes_billing.with_resource_lines(s, inp, rate(inp), now)  # SHAPES: extras at resource prices
        invoice_id = "inv_" + secrets.token_hex(6)
        all_v = _vouchers(s, who.account_id, lock=True, on_issue=vouchers is None)
        if vouchers is not None:
            known = {v.id for v in all_v}
            missing = [v for v in vouchers if v not in known]
            if missing:
                raise NotFoundError(f"no voucher(s) {missing} for tenant {who.name}", vouchers=missing)
            all_v = [v for v in all_v if v.id in set(vouchers)]
        sla = pending_sla(p, s, who.account_id, inp.period_end, now)
        st = _settle(p, s, who, invoice_id, now, rated, inp.currency, all_v, sla)
        if vouchers:
            for vid in vouchers:
                if not any(u.voucher_id == vid for u in st.voucher_uses):
                    rules = sorted({r.rule for r in st.refusals if r.voucher_id == vid})
                    why = "; ".join(RULE_TEXT[r] for r in rules) or "no line has an amount to pay"
                    raise ValidationError(f"voucher {vid} cannot pay any line of this invoice: {why}",
                                          voucher=vid, rules=rules)
        c = inp.currency
        paid = st.amount_due == 0 and st.total > 0  # vouchers, credits and wallet paid it all
        invoice = Invoice(invoice_id, who.account_id, period, InvoiceStatus.PAID if paid else InvoiceStatus.ISSUED, c,
                          minor(st.subtotal, c), minor(st.tax, c), minor(st.total, c), minor(st.vouchers, c),
                          minor(st.credits, c), minor(st.wallet, c), minor(st.amount_due, c), now,
                          paid_at=now if paid else None)
        line_ids = store.add_invoice(s, invoice, [line_of(i, x, c) for i, x in enumerate(rated.lines)])
        # the parties and the tax per rate as of now, kept: a profile or rate changed later never changes it
        legal_store.add_invoice_legal(s, invoice_id, legal_store.get_profile(s, SELLER),
                                      legal_store.get_profile(s, who.account_id), st.taxes)
        store.add_voucher_outcomes(
            s, [{"voucher_id": u.voucher_id, "invoice_id": invoice_id, "line_id": line_ids[u.line_no],
                 "amount": u.amount, "rule": u.rule, "at": now} for u in st.voucher_uses],
            [{"voucher_id": r.voucher_id, "invoice_id": invoice_id, "line_id": line_ids[r.line_no], "rule": r.rule,
              "at": now} for r in st.refusals])
        store.add_package_draws(s, invoice_id, rated.package_draws)
        for x in sla:  # before the settlement's entries: the credit is on the balance the invoice spends
            (entry_id,) = ledger_store.add_entries(s, [entry_values(x.entry)])
            store.add_sla_posting(s, x.credit, entry_id=entry_id, invoice_id=invoice_id,
                                  supplier_share=sum((q.supplier_share for q in x.parts), ZERO),
                                  parts=[_part_doc(q) for q in x.parts], at=now)
        ledger_store.add_entries(s, [entry_values(e) for e in st.entries])
    return invoice_doc(p, actor, invoice_id) | {"records": n}


def line_of(i: int, x: ChargeLine, currency: str) -> InvoiceLine:
    """A rated line as an invoice holds it: the issued invoice stores exactly this, and the draft
    shows exactly this (amounts in the minor unit, quantity and unit price at stored precision)."""
    return InvoiceLine(i, x.kind, x.meter, x.model, x.site, x.supplier, x.node, x.lease, x.plan, x.package, x.start,
                       x.end, x.quantity, x.price_unit, x.unit_price, x.amount, x.supplier_share, x.commission,
                       x.records, x.usage_period, x.description).canonical(currency)


def _get_invoice(s: Session, grant: Grant, invoice_id: str, *, for_update: bool = False) -> Invoice:
    return store.get_invoice(s, invoice_id, tenant_id=grant.tenant_id, for_update=for_update)


def document(*, tenant: str, period: str, status: InvoiceStatus, currency: str, as_of: datetime, records: int,
             totals: Sequence[Decimal], lines: Sequence[InvoiceLine], sla: list[dict[str, Any]], actor: Principal,
             invoice: Invoice | None = None, notes: Sequence[CreditNote] = (),
             uses: Sequence[VoucherOutcome] = (), all_notes: Sequence[InvoiceNote] = (),
             seller: dict[str, Any] | None = None, buyer: dict[str, Any] | None = None,
             taxes: Sequence[TaxGroup] = (), legal_kept: bool = True) -> dict[str, Any]:
    """An invoice document, issued (``invoice``) or draft: the one shape every reader gets (JSON,
    CLI, CSV, HTML), with every amount in the currency's minor unit. ``totals``: subtotal, tax,
    total, vouchers, credits, wallet, amount due. The revenue split of a line is the operator's.
    ``all_notes``: every credit and debit note issued on it since (a draft has none), with the
    balance after them and what ``pay`` collects now (``outstanding``). ``seller``, ``buyer``: the
    parties' legal profiles (as issued; a draft: as now; ``None`` where not set or not kept);
    ``taxes``: the tax per rate (:mod:`suanli.domain.tax`)."""
    c = currency
    split = sees_revenue_split(actor)
    total, amount_due = totals[2], totals[6]
    owed = outstanding(invoice, all_notes) if invoice else minor(amount_due, c)
    doc: dict[str, Any] = {
        "id": invoice.id if invoice else None, "tenant": tenant, "period": period, "status": status, "currency": c,
        "as_of": as_of, "issued_at": invoice.issued_at if invoice else None,
        "paid_at": invoice.paid_at if invoice else None, "voided_at": invoice.voided_at if invoice else None,
        "records": records,
        **{k: minor(v, c) for k, v in zip(TOTALS, totals, strict=True)},
        "credit_notes": [{"id": n.id, "amount": minor(n.amount, c), "reason": n.reason, "to_wallet": n.to_wallet,
                          "at": n.at} for n in notes],
        "voucher_uses": [{"voucher": u.voucher, "line_no": u.line_no, "outcome": u.outcome, "rule": u.rule,
                          "amount": minor(u.amount, c)} for u in uses],
        "sla_credits": sla,
        "notes": [{"id": n.id, "kind": n.kind.value, "amount": minor(n.amount, c), "reason": n.reason, "at": n.at,
                   "by": n.by, "correction": n.correction, "to_wallet": n.to_wallet, "paid_at": n.paid_at}
                  for n in all_notes],
        **{k: minor(sum((n.amount for n in all_notes if n.kind.value == k.split("_")[0]), ZERO), c)
           for k in ("credit_notes_total", "debit_notes_total")},
        "balance_after_notes": balance_after_notes(total, all_notes, c),
        "outstanding": owed,
        "seller": seller, "buyer": buyer, "legal_kept": legal_kept,  # False: issued before 0026 kept them
        "taxes": [{"rate": g.rate, "product_types": [t.value for t in g.product_types], "base": minor(g.base, c),
                   "tax": minor(g.tax, c)} for g in taxes],
        "lines": [{"line_no": x.line_no, "kind": x.kind, "meter": x.meter, "model": x.model, "site": x.site,
                   "supplier": x.supplier, "node": x.node, "lease": x.lease, "plan": x.plan, "package": x.package,
                   "start": x.start, "end": x.end, "quantity": x.quantity, "price_unit": x.price_unit,
                   "unit_price": x.unit_price, "amount": x.amount, "records": x.records,
                   "usage_period": x.usage_period, "description": x.description,
                   **({"supplier_share": x.supplier_share, "commission": x.commission} if split else {})}
                  for x in (y.canonical(c) for y in lines)],
    }
    return doc


TOTALS = ("subtotal", "tax", "total", "vouchers", "credits", "wallet", "amount_due")
"""The totals of an invoice document, in the order they are settled (:mod:`suanli.ledger.invoices`)."""

NOTE_TOTALS = ("credit_notes_total", "debit_notes_total", "balance_after_notes", "outstanding")
"""After issue: the notes' sums, total - credit notes + debit notes, and what ``pay`` collects now."""

EXPORT_TOTALS = (*TOTALS[:3], *NOTE_TOTALS[:3], *TOTALS[3:], NOTE_TOTALS[3])
"""The totals rows of an export, in order: the balance after notes next to the issued total."""


def invoice_doc(p: Platform, actor: Principal, invoice_id: str) -> dict[str, Any]:
    """One invoice with its lines, voucher uses and credit notes (a tenant sees only its own)."""
    grant = authorize(actor, Action.READ_INVOICES)
    with p.tx() as s:
        i = _get_invoice(s, grant, invoice_id)
        tenant = account_store.get_account(s, i.tenant_id)
        lines = store.invoice_lines(s, [i.id])
        notes = store.credit_notes(s, i.id)
        all_notes = note_store.invoice_notes(s, i.id, i.currency)
        uses = store.invoice_voucher_outcomes(s, i.id)
        # the SLA credits this invoice posted, or that a voided invoice of the month posted and this one spends
        voided = {r.id for r in store.list_invoices(s, tenant_id=i.tenant_id, period=i.period,
                                                    status=InvoiceStatus.VOID)}
        sla = [sla_doc(posted.credit, posted.parts, actor)
               for posted in store.sla_postings(s, tenant_id=i.tenant_id, period=i.period)
               if posted.invoice_id == i.id or (i.status is not InvoiceStatus.VOID and posted.invoice_id in voided)]
        kept = legal_store.invoice_legal(s, i.id)  # None: issued before migration 0026 kept them
    return document(tenant=tenant.name, period=i.period, status=i.status, currency=i.currency, as_of=i.issued_at,
                    records=sum(x.records for x in lines), actor=actor, invoice=i, lines=lines, notes=notes,
                    uses=uses, all_notes=all_notes, sla=sla, totals=(i.subtotal, i.tax, i.total, i.vouchers, i.credits, i.wallet,
                                                i.amount_due),
                    seller=kept[0] if kept else None, buyer=kept[1] if kept else None, taxes=kept[2] if kept else (),
                    legal_kept=kept is not None)


def list_invoices(p: Platform, actor: Principal, *, tenant: str | None = None, period: str | None = None,
                  status: str | None = None) -> list[dict[str, Any]]:
    """Issued invoices (of a tenant, month and status when given; a tenant sees its own)."""
    grant = authorize(actor, Action.READ_INVOICES)
    wanted = parse_status(status)
    with p.tx() as s:
        tid = grant.tenant_id
        if tenant:
            tid = resolve_tenant(s, grant, tenant).account_id
        names = {a.account_id: a.name for a in account_store.list_accounts(s)} if tid is None else {
            tid: account_store.get_account(s, tid).name}
        rows = store.list_invoices(s, tenant_id=tid, period=period, status=wanted)
    return [{"id": r.id, "tenant": names.get(r.tenant_id, r.tenant_id), "period": r.period, "status": r.status,
             "currency": r.currency, "total": r.total, "amount_due": r.amount_due, "issued_at": r.issued_at}
            for r in rows]


def parse_status(status: str | None) -> InvoiceStatus | None:
    """A stored invoice status named in a query (``issued``, ``paid``, ``void``), else a 422."""
    if not status:
        return None
    allowed = ", ".join(x.value for x in STORED_STATUSES)
    try:
        wanted = InvoiceStatus(status)
    except ValueError:
        raise ValidationError(f"status {status!r} not allowed; allowed: {allowed}", field="status") from None
    if wanted not in STORED_STATUSES:
        raise ValidationError(f"status {status!r} not allowed; allowed: {allowed}", field="status")
    return wanted


def pay_invoice(p: Platform, actor: Principal, invoice_id: str) -> dict[str, Any]:
    """Record that what is outstanding was received (operator only): the amount due of an issued
    invoice (issued -> paid) and every debit note on it not paid yet, in one payment; on a paid
    invoice, its unpaid debit notes (a 409 when nothing is outstanding)."""
    grant = authorize(actor, Action.SETTLE_INVOICE)
    now = p.clock.now()
    with p.tx() as s:
        i = _get_invoice(s, grant, invoice_id, for_update=True)
        owed = outstanding(i, note_store.invoice_notes(s, i.id, i.currency))
        if i.status is InvoiceStatus.VOID or (i.status is InvoiceStatus.PAID and owed <= 0):
            raise ConflictError(f"invoice {invoice_id} is {i.status} with nothing outstanding; only an issued "
                                "invoice or an unpaid debit note can be paid", invoice=invoice_id,
                                status=i.status.value)
        if owed > 0:
            ledger_store.add_entries(s, [entry_values(inv.payment(i.tenant_id, i.id, now, owed, i.currency))])
        note_store.mark_debits_paid(s, i.id, now)
        if i.status is InvoiceStatus.ISSUED:
            store.set_invoice_status(s, i.id, InvoiceStatus.PAID, now)
    return invoice_doc(p, actor, invoice_id)


def void_invoice(p: Platform, actor: Principal, invoice_id: str, reason: str = "") -> dict[str, Any]:
    """Void an unpaid invoice (operator only): every entry is reversed; vouchers and packages are freed."""
    grant = authorize(actor, Action.SETTLE_INVOICE)
    now = p.clock.now()
    with p.tx() as s:
        i = _get_invoice(s, grant, invoice_id, for_update=True)
        if i.status is not InvoiceStatus.ISSUED:
            raise ConflictError(f"invoice {invoice_id} is {i.status}; only an issued, unpaid invoice can be "
                                "voided (give a credit note for a paid one)", invoice=invoice_id,
                                status=i.status.value)
        corrected = correction_store.notes_on_invoice(s, invoice_id)
        if corrected:  # re-issuing the month rates it with the corrected price: the notes would count twice
            raise ConflictError(f"invoice {invoice_id} has price-correction notes ({', '.join(corrected)}); voiding "
                                "it would bill the correction twice when the month is issued again: give a credit "
                                "note instead", invoice=invoice_id, notes=corrected)
        termed = [n.id for n in store.credit_notes(s, invoice_id) if n.ref.startswith(FEE_REF_PREFIX)]
        if termed:  # issuing the month again bills the term fee for what is held: the notes would count twice
            raise ConflictError(f"invoice {invoice_id} has term fee credit notes ({', '.join(termed)}); voiding it "
                                "would give them twice when the month is issued again: give a credit note "
                                "instead", invoice=invoice_id, notes=termed)
        debits = note_store.debit_note_ids(s, invoice_id)
        if debits:  # its entry is the note's own: voiding the invoice would leave the tenant owing it
            raise ConflictError(f"invoice {invoice_id} has debit notes ({', '.join(debits)}); an invoice with a "
                                "debit note cannot be voided: give a credit note instead", invoice=invoice_id,
                                notes=debits)
        rows = ledger_store.postings(s, ref=invoice_id)
        by_entry: dict[int, list[tuple[str, Decimal]]] = {}
        kinds: dict[int, str] = {}
        for eid, kind, _ref, _at, _memo, account, amount in rows:
            by_entry.setdefault(eid, []).append((account, -amount))
            kinds[eid] = kind
        ledger_store.add_entries(s, [("void", invoice_id, now, f"reverses {kinds[e]} ({reason or 'void'})",
                                      i.currency, legs) for e, legs in sorted(by_entry.items())])
        store.set_invoice_status(s, i.id, InvoiceStatus.VOID, now)
    return invoice_doc(p, actor, invoice_id)


def credit_note(p: Platform, actor: Principal, invoice_id: str, amount: Decimal, reason: str) -> dict[str, Any]:
    """Give back part of an invoice as a new entry (operator only): to the wallet if it was paid."""
    grant = authorize(actor, Action.SETTLE_INVOICE)
    if not reason:
        raise ValidationError("a credit note needs a reason", field="reason")
    amount = check_amount(amount, "amount", places=2)
    now = p.clock.now()
    with p.tx() as s:
        i = _get_invoice(s, grant, invoice_id, for_update=True)
        if i.status is InvoiceStatus.VOID:
            raise ConflictError(f"invoice {invoice_id} is void; nothing to credit", invoice=invoice_id)
        given = sum((n.amount for n in store.credit_notes(s, i.id)), ZERO)
        if amount > i.total - given:
            raise ValidationError(f"credit note {amount} exceeds what is left to credit on invoice {invoice_id} "
                                  f"({i.total - given} of {i.total})", field="amount",
                                  allowed_max=str(i.total - given))
        add_credit(s, i, amount, reason, now, by=actor.name)
    return invoice_doc(p, actor, invoice_id)


def add_credit(s: Session, i: Invoice, amount: Decimal, reason: str, now: datetime, *, by: str = "",
               ref: str = "") -> str:
    """Write a credit note of ``amount`` on the (locked, live) invoice ``i`` and its entry: to the
    wallet if it was paid or the note exceeds what is due, else off the amount due. Returns its id."""
    note_id = "cn_" + secrets.token_hex(6)
    to_wallet = i.status is InvoiceStatus.PAID or amount > i.amount_due
    e = inv.credit_note(i.tenant_id, i.id, note_id, now, amount, to_wallet=to_wallet, reason=reason,
                        currency=i.currency)
    ledger_store.add_entries(s, [entry_values(e)])
    store.add_credit_note(s, CreditNote(note_id, i.id, amount, reason, to_wallet, now, by, ref))
    if not to_wallet:
        store.reduce_amount_due(s, i.id, amount)
    return note_id


def provisional_lines(p: Platform, period: str, supplier: str) -> tuple[list[tuple[ChargeLine, str]], int]:
    """The supplier's lines on the drafts of every tenant whose invoice for ``period`` is not issued
    yet, rated now by the same code as the invoices (to date for the current month); nothing is
    written. Returns ((line, tenant id) ...) and how many tenants' drafts had lines of the supplier."""
    now = p.clock.now()
    out: list[tuple[ChargeLine, str]] = []
    tenants = 0
    with p.read() as s:
        issued = {r.tenant_id for r in store.list_invoices(s, tenant_id=None, period=period, live=True)}
        for who in account_store.list_accounts(s):
            if who.role is not Role.TENANT or who.organisation is not None or who.account_id in issued:
                continue
            inp, _n = _rating(p, s, who, period, now, store_leases=False)
            lines = shapes_billing.with_resource_lines(s, inp, rate(inp), now).lines  # SHAPES: extras too
            mine = [(x, who.account_id) for x in lines if x.supplier == supplier]
            if mine:
                tenants += 1
                out += mine
    return out, tenants


def month_invoice(p: Platform, actor: Principal, period: str, tenant: str | None = None) -> dict[str, Any]:
    """A tenant's invoice for a month: the issued document if the month has a live (issued or
    paid) invoice — never a re-rating, which can differ (packages drawn since, late usage that
    went to a later invoice) — else the draft (status ``preview``), to date for the current month."""
    grant = authorize(actor, Action.READ_INVOICES)
    period_bounds(period)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        live = store.list_invoices(s, tenant_id=who.account_id, period=period, live=True)
    if live:
        return invoice_doc(p, actor, live[0].id)
    return draft_doc(preview(p, actor, period, tenant), actor)


def draft_doc(d: Draft, actor: Principal) -> dict[str, Any]:
    """The draft as a document (status ``preview``): built by :func:`document` from the lines the
    issued invoice will store (:func:`line_of`), so it prints exactly as the issued invoice will."""
    st = d.settlement
    return document(tenant=d.tenant.name, period=d.period, status=InvoiceStatus.PREVIEW, currency=d.currency,
                    as_of=d.as_of, records=d.records, actor=actor,
                    lines=[line_of(i, x, d.currency) for i, x in enumerate(d.rated.lines)],
                    sla=[sla_doc(x.credit, x.parts, actor) for x in d.sla],
                    totals=(st.subtotal, st.tax, st.total, st.vouchers, st.credits, st.wallet, st.amount_due),
                    seller=d.seller.snapshot() if d.seller else None, buyer=d.buyer.snapshot() if d.buyer else None,
                    taxes=st.taxes)


def ledger_check(p: Platform, actor: Principal) -> dict[str, Any]:
    """Trial balance (operator only): every account's balance, their sum (zero) and unbalanced entries (none)."""
    authorize(actor, Action.CHECK_LEDGER)
    with p.tx() as s:
        bal = ledger_store.balances(s)
        bad = ledger_store.unbalanced_entries(s)
    return {"accounts": dict(sorted(bal.items())), "sum": sum(bal.values(), ZERO),
            "unbalanced_entries": [e for e, _ in bad]}

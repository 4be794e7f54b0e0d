"""A tenant's money as its console shows it: cost to date per lease, and paying an invoice from the wallet.

**Cost to date of a lease** is the sum of the amounts of the invoice lines that name the lease, over
every month the lease held devices (and the month after, where late usage of a closed month lands as
an adjustment): the lines of the month's issued invoice where one was issued (not void), else the
lines of the month's draft (:func:`suanli.service.billing.preview`, to now for the current month).
So it is rated by the same code with the same rounding (each line rounded once to the minor unit,
half up) as the invoice, and for the current month it equals, to the cent, the sum of the draft's
lines for that lease. It is before tax, vouchers, credits and wallet (those apply to the invoice,
not to a lease). Reads write nothing.

**Paying from the wallet**: a tenant (its admin or finance member) pays what is outstanding on one
of its issued invoices (the amount due, plus debit notes not paid yet) out of its wallet balance, in
one entry ``wallet +owed / receivable -owed``; the invoice becomes ``paid``. All or nothing: a
balance below what is owed is refused (409, saying how much is missing and that the operator tops
the wallet up), and nothing is written. The operator may do it for any tenant.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.invoices import InvoiceStatus, outstanding
from suanli.domain.money import minor
from suanli.errors import ConflictError
from suanli.ledger.postings import wallet
from suanli.ledger.rating import add_months, month_of
from suanli.ledger.wallets import wallet_payment
from suanli.service import billing
from suanli.service.platform import Platform
from suanli.store import billing as store
from suanli.store import invoice_notes as note_store
from suanli.store import leases as lease_store
from suanli.store import ledger as ledger_store
from suanli.store.wallet_lock import lock_tenant

ZERO = Decimal("0.00")


def _months(first: datetime, last: datetime) -> list[str]:
    out = []
    t = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while t <= last:
        out.append(month_of(t))
        t = add_months(t, 1)
    return out


def lease_costs(p: Platform, actor: Principal, tenant: str | None = None, lease: str | None = None
                ) -> dict[str, Any]:
    """Cost to date of each of a tenant's leases (one lease when ``lease`` is given), with the month
    split and where each month's figure comes from (``invoice`` id or ``draft``)."""
    grant = authorize(actor, Action.READ_INVOICES)
    now = p.clock.now()
    current = month_of(now)
    with p.read() as s:
        who = billing.resolve_tenant(s, grant, tenant)
        leases = lease_store.list_leases(s, tenant_id=who.account_id, lease_id=lease, now=now)
        if lease is not None and not leases:
            lease_store.get_lease(s, lease, tenant_id=who.account_id, now=now)  # the 404 an unknown lease gets
        issued = {i.period: i for i in store.list_invoices(s, tenant_id=who.account_id, live=True)}
        months: set[str] = set()
        for x in leases:
            began = x.activated_at or x.start
            if began is None or began > now:
                continue
            ended = min(x.ended_at or now, now)
            months.update(m for m in _months(began, add_months(ended, 1)) if m <= current)
        stored = {m: store.invoice_lines(s, [issued[m].id]) for m in sorted(months) if m in issued}
    wanted = {x.id for x in leases}
    cost: dict[str, dict[str, Decimal]] = {x.id: {} for x in leases}
    source: dict[str, str] = {}
    currency = p.settings.currency
    for m in sorted(months):
        if m in issued:
            i = issued[m]
            currency = i.currency
            lines = [(x.lease, x.amount) for x in stored[m]]
            source[m] = i.id
        else:
            d = billing.preview(p, actor, m, who.name)
            currency = d.currency
            lines = [(x.lease, x.amount) for x in (billing.line_of(k, y, d.currency) for k, y in enumerate(d.rated.lines))]
            source[m] = "draft"
        for lid, amount in lines:
            if lid in wanted:
                cost[lid][m] = cost[lid].get(m, ZERO) + amount
    items = []
    for x in leases:
        per = {m: minor(v, currency) for m, v in sorted(cost[x.id].items())}
        items.append({"lease": x.id, "state": x.state.value, "currency": currency,
                      "cost_to_date": minor(sum(per.values(), ZERO), currency),
                      "this_month": per.get(current, minor(ZERO, currency)),
                      "months": [{"period": m, "amount": v, "source": source[m]} for m, v in per.items()]})
    return {"tenant": who.name, "currency": currency, "as_of": now, "items": items}


def pay_from_wallet(p: Platform, actor: Principal, invoice_id: str) -> dict[str, Any]:
    """Pay what is outstanding on an issued invoice from the tenant's wallet balance (all of it, or
    nothing: 409 when the balance is short, or when nothing is outstanding)."""
    grant = authorize(actor, Action.PAY_INVOICE)
    now = p.clock.now()
    with p.tx() as s:
        i = store.get_invoice(s, invoice_id, tenant_id=grant.tenant_id, for_update=True)
        lock_tenant(s, i.tenant_id)  # one wallet payment of a tenant at a time: the balance read stays true
        owed = outstanding(i, note_store.invoice_notes(s, i.id, i.currency))
        if owed <= 0:
            raise ConflictError(f"invoice {invoice_id} is {i.status} with nothing outstanding; only an issued "
                                "invoice or an unpaid debit note can be paid", invoice=invoice_id,
                                status=i.status.value)
        balance = -ledger_store.balance(s, wallet(i.tenant_id))
        if balance < owed:
            short = minor(owed - balance, i.currency)
            raise ConflictError(f"the wallet holds {minor(balance, i.currency)} {i.currency}, less than the {owed} "
                                f"{i.currency} outstanding on invoice {invoice_id} ({short} {i.currency} short): "
                                "ask the operator to top the wallet up, then pay again", invoice=invoice_id,
                                balance=str(minor(balance, i.currency)), outstanding=str(owed), short=str(short))
        ledger_store.add_entries(s, [billing.entry_values(wallet_payment(i.tenant_id, i.id, now, owed,
                                                                             i.currency))])
        note_store.mark_debits_paid(s, i.id, now)
        if i.status is InvoiceStatus.ISSUED:
            store.set_invoice_status(s, i.id, InvoiceStatus.PAID, now)
    return billing.invoice_doc(p, actor, invoice_id)

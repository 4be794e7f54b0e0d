"""Supplier payouts and earnings to date.

**Payouts** (:mod:`suanli.domain.payouts`): the operator records a transfer to a supplier (date,
amount, the bank's reference, the months it covers) with an idempotency key; it is one ledger
entry ``payable:<supplier> +amount / cash -amount`` and one record. It never exceeds what is owed
(the payable balance, read under a lock on the supplier's row so that two payouts at once cannot
both pass): 409 ``conflict`` with ``owed``. The same key again returns the payout recorded (nothing
new is written); the same key for a different payout is a 409.

**Earnings to date** (:func:`supplier_earnings`): what the supplier has earned so far, provisional
for the open month. Figures, in the operator's currency:

    provisional_share   its share of the month's lines on the drafts of tenants whose invoice for
                        the month is not issued yet (rated now, by the invoices' own code:
                        :func:`suanli.service.billing.provisional_lines`); changes until issued
    period_issued_share its share of the month's issued invoices (tenants already invoiced)
    issued_share        its share of every issued (not void) invoice, all months
    sla_share           what it bore of SLA credits (lowers what it is owed)
    paid                every payout so far
    owed                the payable balance now (what a payout may pay)
    earned_to_date      issued_share - sla_share + provisional_share
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.invoices import InvoiceStatus
from suanli.domain.money import check_amount, minor
from suanli.domain.payouts import Payout
from suanli.errors import ConflictError, NotFoundError, ValidationError
from suanli.ledger.invoices import payout
from suanli.ledger.postings import payable
from suanli.ledger.rating import month_of, period_bounds
from suanli.service import billing
from suanli.service.billing import entry_values
from suanli.service.platform import Platform
from suanli.store import billing as billing_store
from suanli.store import fleet as fleet_store
from suanli.store import ledger as ledger_store
from suanli.store import legal as store

ZERO = Decimal("0.00")
KEY_MAX = 128


def operator_today(p: Platform, now: datetime) -> date:
    """Today in the operator's time zone (``SUANLI_TIME_ZONE``, Asia/Shanghai by default)."""
    return now.astimezone(ZoneInfo(p.settings.time_zone)).date()


def payout_doc(x: Payout, owed_after: Decimal | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": x.id, "supplier": x.supplier, "amount": x.amount, "currency": x.currency,
                           "paid_on": x.paid_on, "reference": x.reference, "periods": list(x.periods),
                           "idempotency_key": x.idempotency_key, "recorded_at": x.recorded_at,
                           "recorded_by": x.recorded_by}
    if owed_after is not None:
        out["owed_after"] = owed_after
    return out


def _periods(periods: list[str] | tuple[str, ...], now: datetime) -> tuple[str, ...]:
    current = month_of(now)
    for x in periods:
        period_bounds(x)  # a 422 unless YYYY-MM
        if x > current:
            raise ValidationError(f"periods: {x} has not begun; a payout covers months up to {current}",
                                  field="periods")
    return tuple(sorted(set(periods)))


def record_payout(p: Platform, actor: Principal, supplier: str, amount: Decimal, *, paid_on: date | None = None,
                  reference: str = "", periods: list[str] | tuple[str, ...] = (),
                  idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Record a payout (operator only). Returns (the payout with ``owed_after``, whether it is new)."""
    authorize(actor, Action.PAY_SUPPLIER)
    amount = check_amount(amount, "amount", places=2)
    now = p.clock.now()
    today = operator_today(p, now)
    day = paid_on or today
    if day > today:
        raise ValidationError(f"paid_on {day.isoformat()} is in the future (today is {today.isoformat()} in the "
                              "operator's time zone): record a payout once it is made", field="paid_on")
    months = _periods(periods, now)
    key = idempotency_key or secrets.token_hex(12)
    if len(key) > KEY_MAX:
        raise ValidationError(f"Idempotency-Key must be at most {KEY_MAX} characters", field="idempotency_key")
    currency = p.settings.currency
    amount = minor(amount, currency)
    with p.tx() as s:
        if not store.lock_supplier(s, supplier):
            raise NotFoundError(f"no supplier {supplier!r}", supplier=supplier)
        before = store.payout_by_key(s, supplier, key)
        if before is not None:
            if not before.same_request(amount, day, reference, months):
                raise ConflictError(f"Idempotency-Key {key!r} was used for payout {before.id} ({before.amount} on "
                                    f"{before.paid_on.isoformat()}); use a new key for another payout",
                                    payout=before.id)
            owed = -ledger_store.balance(s, payable(supplier))
            return payout_doc(before, minor(owed, currency)), False
        owed = minor(-ledger_store.balance(s, payable(supplier)), currency)
        if amount > owed:
            raise ConflictError(f"payout {amount} exceeds what is owed to {supplier} ({owed} {currency}); pay at "
                                "most what is owed", supplier=supplier, owed=str(owed))
        pid = "po_" + secrets.token_hex(6)
        (entry_id,) = ledger_store.add_entries(s, [entry_values(payout(supplier, pid, now, amount, currency))])
        record = Payout(pid, supplier, amount, currency, day, reference, months, key, now, actor.name)
        store.add_payout(s, record, entry_id)
    return payout_doc(record, owed - amount), True


def list_payouts(p: Platform, actor: Principal, supplier: str | None = None) -> list[dict[str, Any]]:
    """Payout records, newest first: a supplier its own (naming another answers 404); the operator all,
    or one supplier's."""
    named = authorize(actor, Action.READ_PAYOUTS).named_supplier(supplier)
    with p.read() as s:
        if named is not None and not fleet_store.supplier_exists(s, named):
            raise NotFoundError(f"no supplier {named!r}", supplier=named)
        rows = store.payouts(s, named)
    return [payout_doc(x) for x in rows]


def supplier_earnings(p: Platform, actor: Principal, supplier: str | None = None, period: str | None = None
                      ) -> dict[str, Any]:
    """The supplier's earnings to date (see the module's docstring); ``period`` ``current`` (default)
    or a month YYYY-MM for the provisional part. A supplier sees its own."""
    named = authorize(actor, Action.READ_SUPPLIER_STATEMENT).named_supplier(supplier)
    if not named:
        raise ValidationError("name the supplier (supplier=NAME)", field="supplier")
    now = p.clock.now()
    month = month_of(now) if period in (None, "", "current") else period
    assert month is not None
    period_bounds(month)  # a 422 unless YYYY-MM
    c = p.settings.currency
    with p.read() as s:
        if not fleet_store.supplier_exists(s, named):
            raise NotFoundError(f"no supplier {named!r}", supplier=named)
        issued = billing_store.supplier_lines(s, named, None)
        owed = -ledger_store.balance(s, payable(named))
        paid = sum((x.amount for x in store.payouts(s, named)), ZERO)
        paid += store.legacy_payouts(s, payable(named))
        sla = sum((Decimal(part["supplier_share"]) for posted in billing_store.sla_postings(s)
                   for part in posted.parts if part["supplier"] == named), ZERO)
    drafts, tenants = billing.provisional_lines(p, month, named)
    nodes: dict[str, list[Decimal]] = {}
    for x, _t in drafts:
        n = nodes.setdefault(x.node, [Decimal(0), ZERO, ZERO, ZERO])
        n[0] += x.quantity
        n[1] += x.amount
        n[2] += x.supplier_share
        n[3] += x.commission
    prov_share = sum((x.supplier_share for x, _t in drafts), ZERO)
    issued_share = sum((line.supplier_share for line, _i in issued), ZERO)
    period_share = sum((line.supplier_share for line, i in issued if i.period == month), ZERO)
    return {
        "supplier": named, "currency": c, "period": month, "as_of": now, "status": InvoiceStatus.PROVISIONAL,
        "note": "provisional: the month's drafts of invoices not issued yet, rated now; they change until each "
                "tenant's invoice is issued",
        "provisional_tenants": tenants,
        "provisional_gross": minor(sum((x.amount for x, _t in drafts), ZERO), c),
        "provisional_share": minor(prov_share, c),
        "provisional_commission": minor(sum((x.commission for x, _t in drafts), ZERO), c),
        "provisional_nodes": [{"node": k, "device_hours": v[0], "gross": minor(v[1], c),
                               "supplier_share": minor(v[2], c), "commission": minor(v[3], c)}
                              for k, v in sorted(nodes.items())],
        "period_issued_share": minor(period_share, c),
        "issued_share": minor(issued_share, c),
        "sla_share": minor(sla, c),
        "paid": minor(paid, c),
        "owed": minor(owed, c),
        "earned_to_date": minor(issued_share - sla + prov_share, c),
    }

"""Credit notes for term fees that paid for devices the reservation did not hold.

A term plan's fee is billed in advance (:mod:`suanli.ledger.terms`). When it turns out that the
reservation held fewer device-seconds than an issued invoice's fee paid for, :func:`credit_unheld`
writes a credit note on that invoice for the difference, in the caller's transaction:

- the plan is ended early (:func:`suanli.service.plans.end_plan`): the time after the end;
- the reservation lost its devices to a failure and was re-placed later, or never, before its end
  (:mod:`suanli.service.health`): the time without devices.

Each fee line is credited by its own notes, found by their ``ref`` (:func:`suanli.ledger.terms.fee_ref`:
``term_fee:<plan id>:<period start>``); a note gives ``credit_due(fee, fee_for(held), credited)``, so after it
``fee - credits = fee_for(device-seconds held)`` at the fee's unit price as issued, to the cent.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from suanli.ledger.plans import PlanKind, PricePlan
from suanli.ledger.terms import credit_due, fee_for, fee_ref, held_device_seconds
from suanli.service import billing, reservations
from suanli.service.platform import Platform
from suanli.store import billing as store

ZERO = Decimal("0.00")


def credit_unheld(p: Platform, s: Session, plan: PricePlan, now: datetime, why: str) -> list[str]:
    """Credit every issued (live) term fee of ``plan`` (as it is now: its end included) for the
    device-seconds its reservation does not hold; returns the credit notes' ids."""
    if plan.kind is not PlanKind.TERM or not plan.reservation:
        return []
    spans = reservations.held_spans(s, plan, now)
    if spans is None:
        return []
    out = []
    for found in store.list_invoices(s, tenant_id=plan.tenant, live=True):
        fees = [x for x in store.invoice_lines(s, [found.id]) if x.kind == "term_fee" and x.plan == plan.id]
        if not fees:
            continue
        for x in fees:
            i = store.get_invoice(s, found.id, for_update=True)
            notes = store.credit_notes(s, i.id)
            ref = fee_ref(plan.id, x.start)
            credited = sum((n.amount for n in notes if n.ref == ref), ZERO)
            end = x.end if plan.effective_to is None else min(x.end, plan.effective_to)
            held = held_device_seconds(spans, x.start, end) if end > x.start else Decimal(0)
            amount = credit_due(x.amount, fee_for(held, x.unit_price, i.currency), credited)
            amount = min(amount, i.total - sum((n.amount for n in notes), ZERO))
            if amount <= 0:
                continue
            hours = held / 3600
            reason = (f"term fee of plan {plan.id} for {x.start.isoformat()} to {x.end.isoformat()}: the reservation {plan.reservation} held "
                      f"{hours.normalize():f} of {x.quantity.normalize():f} device-hours ({why})")
            out.append(billing.add_credit(s, i, amount, reason, now, ref=ref))
    return out

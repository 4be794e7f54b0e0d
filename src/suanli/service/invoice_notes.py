"""Manual debit notes: the operator bills a tenant more on an issued invoice, with a reason.

A debit note is a new entry, never an edit of the invoice (its issued total stays; the document
shows the note and the balance after notes). A manual debit note is the **operator's own revenue**:
``receivable:<tenant> +amount / revenue -amount`` (:func:`suanli.ledger.notes.debit_note`), no
supplier share and no tax added (the amount is what the tenant owes, as entered) — a charge that
belongs to a supplier's usage is a price correction (``suanli price correct``), whose notes split
like the lines they correct. The note is owed until ``suanli invoice pay`` collects it with
whatever else is outstanding on the invoice (:func:`suanli.service.billing.pay_invoice`).
Operator only; a void invoice takes no note (409), and an invoice with a debit note cannot be voided.
"""

from __future__ import annotations

import secrets
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.invoices import InvoiceNote, InvoiceStatus, NoteKind
from suanli.domain.money import check_amount
from suanli.errors import ConflictError, ValidationError
from suanli.ledger.notes import debit_note as debit_entry
from suanli.service import billing
from suanli.service.platform import Platform
from suanli.store import billing as billing_store
from suanli.store import invoice_notes as store
from suanli.store import ledger as ledger_store

MAX_REASON = 1000


def debit_note(p: Platform, actor: Principal, invoice_id: str, amount: Any, reason: str) -> dict[str, Any]:
    """Bill ``amount`` (whole cents, > 0) more on an issued or paid invoice, with a reason (operator only)."""
    grant = authorize(actor, Action.SETTLE_INVOICE)
    why = (reason or "").strip()
    if not why or len(why) > MAX_REASON or "\x00" in why:
        raise ValidationError(f"a debit note needs a reason (1 to {MAX_REASON} characters, no NUL); it is printed "
                              "on the invoice", field="reason")
    value = check_amount(amount, "amount", places=2)
    now = p.clock.now()
    with p.tx() as s:
        i = billing_store.get_invoice(s, invoice_id, tenant_id=grant.tenant_id, for_update=True)
        if i.status is InvoiceStatus.VOID:
            raise ConflictError(f"invoice {invoice_id} is void; a debit note goes on an issued or paid invoice",
                                invoice=invoice_id, status=i.status.value)
        note = InvoiceNote("dn_" + secrets.token_hex(6), i.id, NoteKind.DEBIT, value, why, now, actor.name, None,
                           False, None)
        e = debit_entry(i.tenant_id, i.id, note.id, now, value, reason=why, currency=i.currency)
        (entry_id,) = ledger_store.add_entries(s, [billing.entry_values(e)])
        store.add_debit_note(s, note, i.tenant_id, actor.account_id, entry_id)
    return billing.invoice_doc(p, actor, invoice_id)

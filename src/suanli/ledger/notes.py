"""Credit and debit notes: what a price correction changes on an issued invoice, and its entry.

An issued invoice is never edited. When the operator corrects a price of the past, each issued
invoice the correction touches is rated again twice from the same records (with the price book
before and after the correction); the difference of the two ratings, **per line**, is what the
tenant was over- or under-charged (:func:`line_differences`). Each line's difference carries the
difference of its supplier share and commission, so the note splits exactly as the line does
(rounded per line once, :mod:`suanli.ledger.revenue`): ``amount = supplier share + commission``.

The lines that went down make one **credit note**, those that went up one **debit note**
(:func:`note_entry`); tax is ``round_line(amount x tax rate)``. Entries (debit +, credit -)::

    debit note   receivable:<tenant> +(amount+tax) / payable:<supplier> -share / revenue -commission / tax -tax
    credit note  wallet:<tenant>     -(amount+tax) / payable:<supplier> +share / revenue +commission / tax +tax

A credit note goes to the tenant's wallet (prepaid cash that pays its next invoices), never
against the invoice's amount due, which stays as issued; a debit note is owed (receivable) like
an invoice. A plain debit note without lines (:func:`debit_note`) mirrors the credit note of
:mod:`suanli.ledger.invoices`: ``receivable +amount / revenue -amount``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import round_line
from suanli.errors import ValidationError
from suanli.ledger import postings as acct
from suanli.ledger.postings import Entry, entry
from suanli.ledger.rating import ChargeLine

ZERO = Decimal("0.00")

LineKey = tuple[str, str, str, str, str, str, str, str, str, str]
"""(kind, meter, model, site, supplier, node, lease, plan, package, usage period): a line apart
from its unit price, which is what a correction changes."""


@dataclass(frozen=True)
class LineDifference:
    key: LineKey
    old_amount: Decimal
    new_amount: Decimal
    supplier_share: Decimal
    """new share - old share."""
    commission: Decimal
    """new commission - old commission."""

    @property
    def amount(self) -> Decimal:
        return self.new_amount - self.old_amount

    @property
    def supplier(self) -> str:
        return self.key[4]

    def as_dict(self) -> dict[str, str]:
        names = ("kind", "meter", "model", "site", "supplier", "node", "lease", "plan", "package", "usage_period")
        return {**dict(zip(names, self.key, strict=True)), "old_amount": str(self.old_amount),
                "new_amount": str(self.new_amount), "amount": str(self.amount),
                "supplier_share": str(self.supplier_share), "commission": str(self.commission)}


def _key(x: ChargeLine) -> LineKey:
    return (x.kind, x.meter, x.model, x.site, x.supplier, x.node, x.lease, x.plan, x.package, x.usage_period)


def line_differences(old: Sequence[ChargeLine], new: Sequence[ChargeLine]) -> list[LineDifference]:
    """The lines whose amount differs between two ratings of the same records, in key order."""
    acc: dict[LineKey, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO, ZERO, ZERO])
    for sign, lines in ((0, old), (3, new)):
        for x in lines:
            a = acc[_key(x)]
            a[sign] += x.amount
            a[sign + 1] += x.supplier_share
            a[sign + 2] += x.commission
    out = []
    for k in sorted(acc):
        oa, os_, oc, na, ns, nc = acc[k]
        if na != oa:
            out.append(LineDifference(k, oa, na, ns - os_, nc - oc))
    return out


@dataclass(frozen=True)
class NoteTotals:
    kind: str
    amount: Decimal
    tax: Decimal
    supplier_share: Decimal
    commission: Decimal
    entry: Entry

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


def note_entry(kind: str, tenant: str, invoice_id: str, note_id: str, at: datetime, diffs: Sequence[LineDifference],
               *, tax_rate: Decimal, reason: str, currency: str = "CNY") -> NoteTotals:
    """The ledger entry of a credit note (every diff < 0) or a debit note (every diff > 0)."""
    if kind not in ("credit", "debit") or not diffs:
        raise ValueError("a note is 'credit' or 'debit' and has lines")
    sign = Decimal(1) if kind == "debit" else Decimal(-1)
    if any(d.amount * sign <= 0 for d in diffs):
        raise ValueError(f"a {kind} note takes only lines that went {'up' if kind == 'debit' else 'down'}")
    amount = sum((d.amount for d in diffs), ZERO)
    tax = sign * round_line(abs(amount) * tax_rate, currency) if tax_rate else ZERO
    shares: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for d in diffs:
        if d.supplier_share:
            shares[d.supplier] += d.supplier_share
    commission = sum((d.commission for d in diffs), ZERO)
    target = acct.receivable(tenant) if kind == "debit" else acct.wallet(tenant)
    legs = [(target, amount + tax), *((acct.payable(s), -v) for s, v in sorted(shares.items())),
            (acct.REVENUE, -commission), (acct.TAX, -tax)]
    e = entry(f"{kind}_note", note_id, at, legs, f"{kind} note {note_id} on invoice {invoice_id}: {reason}", currency)
    assert e is not None
    return NoteTotals(kind, abs(amount), abs(tax), abs(sum(shares.values(), ZERO)), abs(commission), e)


def debit_note(tenant: str, invoice_id: str, note_id: str, at: datetime, amount: Decimal, *, reason: str,
               currency: str = "CNY") -> Entry:
    """A debit note: the tenant owes ``amount`` more on an invoice (the mirror of a credit note)."""
    if amount <= 0 or amount != round_line(amount, currency):
        raise ValidationError(f"debit note amount must be > 0 in whole cents, got {amount}", field="amount")
    e = entry("debit_note", note_id, at, [(acct.receivable(tenant), amount), (acct.REVENUE, -amount)],
              f"debit note {note_id} on invoice {invoice_id}: {reason}", currency)
    assert e is not None
    return e

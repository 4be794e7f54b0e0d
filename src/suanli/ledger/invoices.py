"""Invoices: charge lines, what pays them, and the ledger entries that record it.

Settling an invoice (all amounts already rounded per line)::

    subtotal   = sum of line amounts                (each line rounded once)
    tax        = sum over rates r of round_line(sum of the amounts of lines taxed at r x r)
                                                    (:func:`tax_groups`; 0 when no tax is configured)
    total      = subtotal + tax
    vouchers   = sum of voucher uses                 (算力券, by their rules, first)
    credits    = min(credit balance, what is left)   (operator coupons, second)
    wallet     = min(wallet balance, what is left)   (prepaid cash, third)
    amount due = total - vouchers - credits - wallet

Entries (debit +, credit -): issue ``receivable +total / payable:<supplier> -share /
revenue -commission / tax -tax``; then one entry per payment means, each moving its amount off
the receivable. A void reverses every entry of the invoice; a credit note is a new entry
(``revenue +amount / receivable or wallet -amount``); nothing is ever edited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import round_line
from suanli.domain.tax import ProductType, TaxGroup, product_type
from suanli.errors import ValidationError
from suanli.ledger import postings as acct
from suanli.ledger.postings import Entry, entry
from suanli.ledger.rating import ChargeLine
from suanli.ledger.vouchers import Chargeable, Refusal, Voucher, VoucherContext, VoucherUse, apply_vouchers

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Settlement:
    subtotal: Decimal
    tax: Decimal
    voucher_uses: tuple[VoucherUse, ...]
    refusals: tuple[Refusal, ...]
    credits: Decimal
    wallet: Decimal
    entries: tuple[Entry, ...]
    taxes: tuple[TaxGroup, ...] = ()
    """The tax per rate (:func:`tax_groups`); their taxes add up to ``tax``."""

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def vouchers(self) -> Decimal:
        return sum((u.amount for u in self.voucher_uses), ZERO)

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.vouchers - self.credits - self.wallet


def tax_groups(lines: Sequence[ChargeLine], rates: Mapping[ProductType, Decimal], default: Decimal = ZERO,
               currency: str = "CNY") -> tuple[TaxGroup, ...]:
    """The tax of the lines per rate (:mod:`suanli.domain.tax`): lines grouped by the rate of their
    product type (``default`` for a type not in ``rates``), each group's tax rounded once,
    ``round_line(sum of its amounts x rate)``; groups by rate, highest first. No lines, no groups."""
    by_rate: dict[Decimal, list[Decimal]] = {}
    types: dict[Decimal, set[ProductType]] = {}
    for x in lines:
        t = product_type(x.kind, x.meter)
        r = rates.get(t, default)
        by_rate.setdefault(r, []).append(x.amount)
        types.setdefault(r, set()).add(t)
    out = []
    for r in sorted(by_rate, reverse=True):
        base = sum(by_rate[r], ZERO)
        tax = round_line(base * r, currency) if r else ZERO
        out.append(TaxGroup(r, tuple(sorted(types[r], key=list(ProductType).index)), base, tax))
    return tuple(out)


def settle(tenant: str, invoice_id: str, at: datetime, lines: Sequence[ChargeLine], *,
           vouchers: Sequence[Voucher] = (), related: set[str] | frozenset[str] = frozenset(),
           credit_balance: Decimal = ZERO, wallet_balance: Decimal = ZERO, tax_rate: Decimal = ZERO,
           tax_rates: Mapping[ProductType, Decimal] | None = None,
           currency: str = "CNY", voucher_context: VoucherContext | None = None) -> Settlement:
    """Settle the lines (see the module's docstring). ``tax_rates``: the rate per product type in
    force; ``tax_rate``: the rate of a type it does not name (the server-wide default)."""
    subtotal = sum((x.amount for x in lines), ZERO)
    taxes = tax_groups(lines, tax_rates or {}, tax_rate, currency)
    tax = sum((g.tax for g in taxes), ZERO)
    legs: list[tuple[str, Decimal]] = [(acct.receivable(tenant), subtotal + tax)]
    by_supplier: dict[str, Decimal] = defaultdict(lambda: ZERO)
    commission = ZERO
    for x in lines:
        if x.supplier_share:
            by_supplier[x.supplier] += x.supplier_share
        commission += x.commission
    legs += [(acct.payable(s), -v) for s, v in sorted(by_supplier.items())]
    legs += [(acct.REVENUE, -commission), (acct.TAX, -tax)]
    entries: list[Entry] = []
    e = entry("invoice", invoice_id, at, legs, f"invoice {invoice_id} for {tenant}", currency)
    if e is not None:
        entries.append(e)
    uses, refusals = apply_vouchers(vouchers, chargeables(lines), set(related), currency, voucher_context)
    left = subtotal + tax - sum((u.amount for u in uses), ZERO)
    for u in uses:
        ve = entry("voucher", invoice_id, at, [(acct.voucher_issuer(u.issuer), u.amount),
                                               (acct.receivable(tenant), -u.amount)],
                   f"voucher {u.voucher_id} on line {u.line_no}", currency)
        if ve is not None:
            entries.append(ve)
    credits = max(ZERO, min(credit_balance, left))
    left -= credits
    wallet = max(ZERO, min(wallet_balance, left))
    for kind, account, amount in (("credit", acct.credit(tenant), credits), ("wallet", acct.wallet(tenant), wallet)):
        pe = entry(kind, invoice_id, at, [(account, amount), (acct.receivable(tenant), -amount)],
                   f"{kind} applied to invoice {invoice_id}", currency)
        if pe is not None:
            entries.append(pe)
    return Settlement(subtotal, tax, tuple(uses), tuple(refusals), credits, wallet, tuple(entries), taxes)


def chargeables(lines: Sequence[ChargeLine], subsidised: frozenset[int] = frozenset()) -> list[Chargeable]:
    """The lines as the voucher rules see them: only usage (and late usage) can be a paid-contract line."""
    return [Chargeable(i, x.amount, x.supplier, x.start, x.paid_contract and x.kind in ("usage", "adjustment"),
                       i in subsidised, x.meter, x.plan) for i, x in enumerate(lines)]


def payment(tenant: str, invoice_id: str, at: datetime, amount: Decimal, currency: str = "CNY") -> Entry:
    if amount <= 0:
        raise ValidationError(f"payment amount must be > 0, got {amount}", field="amount")
    e = entry("payment", invoice_id, at, [(acct.CASH, amount), (acct.receivable(tenant), -amount)],
              f"payment of invoice {invoice_id}", currency)
    assert e is not None
    return e


def credit_note(tenant: str, invoice_id: str, note_id: str, at: datetime, amount: Decimal, *, to_wallet: bool,
                reason: str, currency: str = "CNY") -> Entry:
    """A credit note: the operator gives back ``amount`` (to the wallet if the invoice was paid)."""
    if amount <= 0 or amount != round_line(amount, currency):
        raise ValidationError(f"credit note amount must be > 0 in whole cents, got {amount}", field="amount")
    target = acct.wallet(tenant) if to_wallet else acct.receivable(tenant)
    e = entry("credit_note", note_id, at, [(acct.REVENUE, amount), (target, -amount)],
              f"credit note {note_id} on invoice {invoice_id}: {reason}", currency)
    assert e is not None
    return e


def top_up(tenant: str, ref: str, at: datetime, amount: Decimal, currency: str = "CNY") -> Entry:
    if amount <= 0 or amount != round_line(amount, currency):
        raise ValidationError(f"top-up amount must be > 0 in whole cents, got {amount}", field="amount")
    e = entry("top_up", ref, at, [(acct.CASH, amount), (acct.wallet(tenant), -amount)], "wallet top-up", currency)
    assert e is not None
    return e


def grant_credit(tenant: str, ref: str, at: datetime, amount: Decimal, reason: str, currency: str = "CNY") -> Entry:
    if amount <= 0 or amount != round_line(amount, currency):
        raise ValidationError(f"credit amount must be > 0 in whole cents, got {amount}", field="amount")
    e = entry("credit_grant", ref, at, [(acct.PROMOTIONS, amount), (acct.credit(tenant), -amount)], reason, currency)
    assert e is not None
    return e


def payout(supplier: str, ref: str, at: datetime, amount: Decimal, currency: str = "CNY") -> Entry:
    if amount <= 0:
        raise ValidationError(f"payout amount must be > 0, got {amount}", field="amount")
    e = entry("payout", ref, at, [(acct.payable(supplier), amount), (acct.CASH, -amount)],
              f"payout to {supplier}", currency)
    assert e is not None
    return e

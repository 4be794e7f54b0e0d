"""The ledger: append-only entries and postings; balances are sums over postings.

Entries come in as plain values (the pure ledger builds and checks them; the store does not
import it): ``(kind, ref, at, memo, currency, [(account, amount), ...])``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from suanli.store.money_tables import LedgerEntryRow, LedgerPostingRow

EntryValues = tuple[str, str, datetime, str, str, Sequence[tuple[str, Decimal]]]


def add_entries(s: Session, entries: Iterable[EntryValues]) -> list[int]:
    ids = []
    for kind, ref, at, memo, currency, legs in entries:
        row = LedgerEntryRow(kind=kind, ref=ref, at=at, memo=memo, currency=currency)
        s.add(row)
        s.flush()
        s.execute(insert(LedgerPostingRow), [{"entry_id": row.id, "account": a, "amount": v} for a, v in legs])
        ids.append(row.id)
    return ids


def postings(s: Session, *, account_prefix: str | None = None, ref: str | None = None
             ) -> list[tuple[int, str, str, datetime, str, str, Decimal]]:
    """(entry id, kind, ref, at, memo, account, amount) in entry order."""
    q = (select(LedgerEntryRow.id, LedgerEntryRow.kind, LedgerEntryRow.ref, LedgerEntryRow.at, LedgerEntryRow.memo,
                LedgerPostingRow.account, LedgerPostingRow.amount)
         .join(LedgerPostingRow, LedgerPostingRow.entry_id == LedgerEntryRow.id)
         .order_by(LedgerEntryRow.id, LedgerPostingRow.id))
    if account_prefix is not None:
        q = q.where(LedgerPostingRow.account.startswith(account_prefix, autoescape=True))
    if ref is not None:
        q = q.where(LedgerEntryRow.ref == ref)
    return [tuple(r) for r in s.execute(q)]  # type: ignore[misc]


def balances(s: Session, *, account_prefix: str | None = None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    q: Any = select(LedgerPostingRow.account, LedgerPostingRow.amount)
    if account_prefix is not None:
        q = q.where(LedgerPostingRow.account.startswith(account_prefix, autoescape=True))
    for account, amount in s.execute(q):
        out[account] = out.get(account, Decimal("0.00")) + amount
    return out


def balance(s: Session, account: str) -> Decimal:
    total = Decimal("0.00")
    for amount in s.scalars(select(LedgerPostingRow.amount).where(LedgerPostingRow.account == account)):
        total += amount
    return total


def unbalanced_entries(s: Session) -> list[tuple[int, Decimal]]:
    """Entries whose postings do not sum to zero (there must be none)."""
    sums: dict[int, Decimal] = {}
    for eid, amount in s.execute(select(LedgerPostingRow.entry_id, LedgerPostingRow.amount)):
        sums[eid] = sums.get(eid, Decimal(0)) + amount
    return sorted((k, v) for k, v in sums.items() if v != 0)

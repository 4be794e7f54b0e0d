"""What the voucher rules need from the database, loaded inside the caller's transaction: the
tenant's vouchers (locked, so two invoices never spend one cap twice), contract facts, approved
suppliers, claims, and what each cap has used. Used by invoice issue (:mod:`suanli.service.billing`)
and by redemption (:mod:`suanli.service.vouchers`); the rules themselves are in
:mod:`suanli.ledger.vouchers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.ledger.vouchers import Contract, Scheme, Voucher, VoucherContext
from suanli.store import billing as billing_store
from suanli.store import vouchers as store

SCHEME_NAMES = {x.value for x in Scheme}


def voucher_from_row(r: Any, used: Decimal) -> Voucher:
    return Voucher(r.id, r.issuer, r.tenant_id, r.percent, r.cap, r.valid_from, r.valid_to, used, Scheme(r.scheme))


def tenant_vouchers(s: Session, tenant_id: str, *, lock: bool = False) -> list[Voucher]:
    rows = store.lock_vouchers(s, tenant_id) if lock else billing_store.vouchers_for(s, tenant_id)
    used = billing_store.voucher_used(s, [r.id for r in rows])
    return [voucher_from_row(r, used[r.id]) for r in rows]


def applied_on_issue(vouchers: Sequence[Voucher]) -> list[Voucher]:
    """Vouchers an invoice applies when it is issued: all but the claim-then-redeem schemes (Beijing)."""
    return [v for v in vouchers if not v.rules.claim_required]


def contract_of(row: Any, plan: Any) -> Contract:
    return Contract(row.plan_id, row.signed_on, row.value, plan.effective_from, plan.effective_to, row.other_subsidy)


def context(s: Session, tenant_id: str, vouchers: Sequence[Voucher], now: datetime, *,
            redeeming: bool = False) -> VoucherContext:
    year = datetime(now.year, 1, 1, tzinfo=UTC), datetime(now.year + 1, 1, 1, tzinfo=UTC)
    ids = [v.id for v in vouchers]
    schemes = {v.scheme for v in vouchers}
    return VoucherContext(
        related=frozenset(billing_store.related_suppliers(s, tenant_id)),
        contracts={c.plan_id: contract_of(c, p) for c, p in store.contracts_for(s, tenant_id)},
        approved={Scheme(k): frozenset(v) for k, v in store.approved_suppliers(s).items()
                  if k in SCHEME_NAMES},
        claims=_claims(store.claims_for(s, ids)),
        contract_used={(Scheme(k), c): v for (k, c), v in store.used_by_contract(s, tenant_id).items()
                       if k in SCHEME_NAMES},
        firm_used={sc: store.firm_used(s, tenant_id, sc.value, *year) for sc in schemes},
        redeeming=redeeming,
        claimed={c: Scheme(k) for c, k in store.claimed_contracts(s, tenant_id).items() if k in SCHEME_NAMES})


def _claims(rows: Sequence[Any]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for c in rows:
        out.setdefault(c.voucher_id, set()).add(c.contract)
    return {k: frozenset(v) for k, v in out.items()}

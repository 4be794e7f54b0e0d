"""Wallets: top-ups, operator credits, balances, and the low-balance runway rule.

:func:`enforce_runway` applies :func:`suanli.ledger.wallets.runway` to every prepaid tenant (one
with a wallet policy): below ``suspend_hours`` of runway its running pay-as-you-go leases are
suspended (moved to ``suspended`` with reason ``suspended: low balance`` through the lease
state machine, so their time stops being billed); once a top-up brings the runway back to
``warn_hours`` or more they are resumed (``active``), if their devices are still free.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.leases import LeaseState, ProductForm
from suanli.domain.money import SECONDS_PER_HOUR, check_amount, round_line
from suanli.errors import ValidationError
from suanli.ledger import invoices as inv
from suanli.ledger.postings import credit, wallet
from suanli.ledger.quotes import rate_at as quoted_rate_at
from suanli.ledger.rating import month_of, period_bounds
from suanli.ledger.wallets import RunwayPolicy, Standing, runway
from suanli.service import quotes as quote_service
from suanli.service.billing import entry_values, resolve_tenant
from suanli.service.health import replace_lease
from suanli.service.leases import advance, transition
from suanli.service.platform import Platform
from suanli.service.prices import price_book
from suanli.store import billing as store
from suanli.store import leases as lease_store
from suanli.store import ledger as ledger_store
from suanli.store.leases import StaleClaim
from suanli.store.money_tables import WalletPolicyRow

SUSPEND_REASON = "suspended: low balance"


def _money(p: Platform, amount: Decimal) -> Decimal:
    return round_line(amount, p.settings.currency)


def top_up(p: Platform, actor: Principal, tenant: str, amount: Decimal, reference: str = "") -> dict[str, Any]:
    """Record money received into a tenant's wallet (operator only), then re-check its runway."""
    grant = authorize(actor, Action.MANAGE_WALLET)
    amount = check_amount(amount, "amount", places=2)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        e = inv.top_up(who.account_id, reference or "tu_" + secrets.token_hex(6), p.clock.now(), amount,
                       p.settings.currency)
        ledger_store.add_entries(s, [entry_values(e)])
    enforce_runway(p, only=who.account_id)
    return show_wallet(p, actor, who.name)


def grant_credit(p: Platform, actor: Principal, tenant: str, amount: Decimal, reason: str) -> dict[str, Any]:
    """An operator coupon/credit: spent on invoices after vouchers, before wallet cash."""
    grant = authorize(actor, Action.MANAGE_WALLET)
    if not reason:
        raise ValidationError("a credit needs a reason (what it is for)", field="reason")
    amount = check_amount(amount, "amount", places=2)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        e = inv.grant_credit(who.account_id, "cr_" + secrets.token_hex(6), p.clock.now(), amount, reason,
                             p.settings.currency)
        ledger_store.add_entries(s, [entry_values(e)])
    return show_wallet(p, actor, who.name)


def set_policy(p: Platform, actor: Principal, tenant: str, warn_hours: Decimal, suspend_hours: Decimal
               ) -> dict[str, Any]:
    """Make a tenant prepaid with a runway rule (operator only)."""
    grant = authorize(actor, Action.MANAGE_WALLET)
    pol = RunwayPolicy(warn_hours, suspend_hours)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        row = store.wallet_policy(s, who.account_id, for_update=True)
        if row is None:
            row = WalletPolicyRow(tenant_id=who.account_id, warn_hours=pol.warn_hours,
                                  suspend_hours=pol.suspend_hours, standing="ok", suspended=[])
        else:
            row.warn_hours, row.suspend_hours = pol.warn_hours, pol.suspend_hours
        store.save_wallet_policy(s, row)
    return show_wallet(p, actor, who.name)


def _burn_and_accrued(p: Platform, s: Session, tenant_id: str) -> tuple[Decimal, Decimal, list[str]]:
    """Hourly list cost of the tenant's active leases (a lease bound by its quote: at its quote), their
    cost since the month began, their ids."""
    now = p.clock.now()
    start, _ = period_bounds(month_of(now))
    book = price_book(p, s)
    burn = accrued = Decimal(0)
    ids = []
    active = lease_store.list_leases(s, tenant_id=tenant_id, states=[LeaseState.ACTIVE], now=now)
    quoted = quote_service.billing_rates(s, [x.id for x in active])  # a fixed term or reservation: its quote
    for lease in active:
        if lease.form is ProductForm.RESERVATION:  # a term's devices, paid by its fee: never suspended
            continue
        held = [al for al in lease.allocations if al.start <= now and (al.end is None or al.end > now)]
        if held and all(al.drawn_from for al in held):  # on a term's reservation: its fee pays, never suspended
            continue
        ids.append(lease.id)
        since = max(lease.activated_at or now, start)
        for al in lease.allocations:  # each over its own window: a resumed or re-placed lease holds several in turn
            if al.drawn_from:  # time on a term's reservation is covered by the term's fee
                continue
            q = quoted.get((lease.id, al.model, al.site))
            r = quoted_rate_at(q, now)[0] if q else book.rate_at(al.model, al.site, now) or Decimal(0)
            if al.start <= now and (al.end is None or al.end > now):
                burn += al.share * r
            lo, hi = max(since, al.start), min(now, al.end or now)
            if hi > lo:
                accrued += al.share * r * Decimal(int((hi - lo).total_seconds())) / SECONDS_PER_HOUR
    return burn, accrued, ids


def show_wallet(p: Platform, actor: Principal, tenant: str | None = None) -> dict[str, Any]:
    grant = authorize(actor, Action.READ_WALLET)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        bal = -ledger_store.balance(s, wallet(who.account_id))
        cred = -ledger_store.balance(s, credit(who.account_id))
        row = store.wallet_policy(s, who.account_id)
        burn, accrued, _ = _burn_and_accrued(p, s, who.account_id)
    pol = RunwayPolicy(row.warn_hours, row.suspend_hours) if row else RunwayPolicy()
    rw = runway(bal, accrued, burn, pol)
    # The runway rule applies to prepaid tenants only: a tenant billed monthly has no runway and
    # its standing is "postpaid" (never suspended for its balance).
    hours = rw.hours if row is not None else None
    return {"tenant": who.name, "currency": p.settings.currency, "balance": bal, "credits": cred,
            "prepaid": row is not None, "warn_hours": pol.warn_hours, "suspend_hours": pol.suspend_hours,
            "burn_per_hour": _money(p, burn), "accrued": _money(p, accrued),
            "runway_hours": None if hours is None else hours.quantize(Decimal("0.01")),
            "standing": row.standing if row else "postpaid",
            "suspended_leases": list(row.suspended) if row else []}


def check_runway(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    """Apply the low-balance rule now (operator); returns what changed."""
    authorize(actor, Action.MANAGE_WALLET)
    return enforce_runway(p)


def enforce_runway(p: Platform, only: str | None = None) -> list[dict[str, Any]]:
    """Apply the runway rule to prepaid tenants; returns what changed. Leases are judged as they are
    now; one it suspends or resumes has its due moves stored first (:func:`advance`)."""
    now = p.clock.now()
    changes: list[dict[str, Any]] = []
    with p.tx() as s:
        rows = [r for r in store.wallet_policies(s) if only in (None, r.tenant_id)]
    for r0 in rows:
        with p.tx() as s:
            row = store.wallet_policy(s, r0.tenant_id, for_update=True)
            assert row is not None
            bal = -ledger_store.balance(s, wallet(row.tenant_id))
            burn, accrued, active = _burn_and_accrued(p, s, row.tenant_id)
            suspended = list(row.suspended)
            if suspended and burn == 0:
                # what the suspended leases would burn if resumed
                for lid in suspended:
                    lease = lease_store.get_lease(s, lid)
                    book = price_book(p, s)
                    burn += sum((al.share * (book.rate_at(al.model, al.site, now) or Decimal(0))
                                 for al in lease.last_allocations()), Decimal(0))
            rw = runway(bal, accrued, burn, RunwayPolicy(row.warn_hours, row.suspend_hours))
            if rw.standing is Standing.SUSPEND and active:
                for lid in active:
                    lease = advance(s, lease_store.get_lease(s, lid, for_update=True), now)
                    transition(s, lease, LeaseState.SUSPENDED, now, SUSPEND_REASON)
                    suspended.append(lid)
                changes.append({"tenant": row.tenant_id, "action": "suspend", "leases": active})
            elif rw.standing is Standing.OK and suspended:
                resumed, kept = [], []
                for lid in suspended:
                    if advance(s, lease_store.get_lease(s, lid, for_update=True), now).state is not LeaseState.SUSPENDED:
                        continue  # its term ended while it was suspended: nothing to resume
                    try:
                        with s.begin_nested():  # a lost race on a device keeps it suspended until the next pass
                            outcome = replace_lease(p, s, lid, now, "resumed: balance topped up")
                    except StaleClaim:
                        outcome = "paused"
                    if outcome == "replaced":
                        resumed.append(lid)
                    elif outcome == "paused":
                        kept.append(lid)
                suspended = kept
                changes.append({"tenant": row.tenant_id, "action": "resume", "leases": resumed})
            row.standing = rw.standing.value if not suspended else Standing.SUSPEND.value
            row.suspended = suspended
            row.checked_at = now
    return changes

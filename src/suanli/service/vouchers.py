"""Compute vouchers (算力券): issue (operator, on behalf of a named issuer), list, audit; related parties.

The rules are in :mod:`suanli.ledger.vouchers`; vouchers are applied when an invoice is issued.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.errors import ValidationError
from suanli.ledger.vouchers import Voucher
from suanli.service.billing import resolve_tenant
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import billing as store
from suanli.store import fleet as fleet_store
from suanli.store.money_tables import VoucherRow


def issue_voucher(p: Platform, actor: Principal, *, tenant: str, issuer: str, percent: Decimal, cap: Decimal,
                  valid_from: datetime, valid_to: datetime) -> dict[str, Any]:
    grant = authorize(actor, Action.ISSUE_VOUCHER)
    if not issuer or len(issuer) > 120:
        raise ValidationError("issuer must name who funds the voucher (e.g. shanghai-city), 1-120 characters",
                              field="issuer")
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        v = Voucher("vc_" + secrets.token_hex(6), issuer, who.account_id, percent, cap, valid_from, valid_to)
        store.add_voucher(s, VoucherRow(id=v.id, issuer=issuer, tenant_id=who.account_id, percent=percent, cap=cap,
                                        valid_from=valid_from, valid_to=valid_to, created_at=p.clock.now()))
    return _doc(v, who.name, Decimal(0))


def _doc(v: Voucher, tenant: str, used: Decimal) -> dict[str, Any]:
    return {"id": v.id, "issuer": v.issuer, "tenant": tenant, "percent": v.percent, "cap": v.cap, "used": used,
            "left": v.cap - used, "valid_from": v.valid_from, "valid_to": v.valid_to}


def list_vouchers(p: Platform, actor: Principal, *, tenant: str | None = None, issuer: str | None = None
                  ) -> list[dict[str, Any]]:
    grant = authorize(actor, Action.READ_VOUCHERS)
    with p.tx() as s:
        tid = resolve_tenant(s, grant, tenant).account_id if tenant else grant.tenant_id
        rows = store.vouchers_for(s, tid, issuer=issuer)
        used = store.voucher_used(s, [r.id for r in rows])
        names = {a.account_id: a.name for a in account_store.list_accounts(s)}
    return [_doc(Voucher(r.id, r.issuer, r.tenant_id, r.percent, r.cap, r.valid_from, r.valid_to),
                 names.get(r.tenant_id, r.tenant_id), used[r.id]) for r in rows]


def audit(p: Platform, actor: Principal, *, issuer: str | None = None, tenant: str | None = None
          ) -> list[dict[str, Any]]:
    """Every use and refusal of vouchers, line by line, with the rule that refused (operator; a tenant its own)."""
    grant = authorize(actor, Action.READ_VOUCHERS)
    with p.tx() as s:
        tid = resolve_tenant(s, grant, tenant).account_id if tenant else grant.tenant_id
        rows = store.vouchers_for(s, tid, issuer=issuer)
        by_id = {r.id: r for r in rows}
        names = {a.account_id: a.name for a in account_store.list_accounts(s)}
        out = store.voucher_audit(s, list(by_id))
    for x in out:
        v = by_id[x["voucher"]]
        x["issuer"], x["tenant"] = v.issuer, names.get(v.tenant_id, v.tenant_id)
    return out


def add_related_party(p: Platform, actor: Principal, tenant: str, supplier: str, note: str = "") -> dict[str, Any]:
    """Register that a buyer and a supplier are related parties (operator only)."""
    grant = authorize(actor, Action.MANAGE_RELATED_PARTIES)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        if not fleet_store.supplier_exists(s, supplier):
            raise ValidationError(f"unknown supplier {supplier!r}", field="supplier")
        store.add_related(s, who.account_id, supplier, note)
    return {"tenant": who.name, "supplier": supplier, "note": note}

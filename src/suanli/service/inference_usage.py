"""Usage and cost of the inference gateway per key and model (``GET /v1/inference/usage``).

Who sees what (``authz.READ_INFERENCE_USAGE``): the operator every tenant's (or one it names), a
tenant its own (an organisation's admin and finance members), a supplier nothing. The rows come
from the metered requests (:mod:`suanli.store.inference_usage`: requests that ended in the month,
UTC); their cost from the tenant's invoice draft for the month (:func:`suanli.service.billing.preview`,
the same rating as the invoice), split across keys as :mod:`suanli.domain.inference_usage` says,
so the totals equal the draft's token lines. Writes nothing (reads never write).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.inference_usage import (
    TOKEN_METERS,
    InferenceUsage,
    KeyModelUsage,
    parse_period,
    with_costs,
)
from suanli.domain.meters import Meter
from suanli.errors import ValidationError
from suanli.service import billing
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import inference_usage as store


def usage(p: Platform, actor: Principal, period: str | None = None, tenant: str | None = None) -> InferenceUsage:
    """Rows per (tenant, key, model) of ``period`` (``YYYY-MM``; default: this month) with their cost."""
    grant = authorize(actor, Action.READ_INFERENCE_USAGE)
    now = p.clock.now()
    month, start, end = parse_period(period, now)
    with p.read() as s:
        if grant.own_tenant(tenant):
            me = actor.as_tenant()
            tid: str | None = me.account_id
            names = {me.account_id: me.name}
        elif tenant:
            who = account_store.get_account(s, tenant)
            if who.role is not Role.TENANT or who.organisation is not None:
                raise ValidationError(f"{tenant!r} is not a tenant organisation; name a tenant (its organisation)",
                                      field="tenant")
            tid, names = who.account_id, {who.account_id: who.name}
        else:
            tid, names = None, {}
        rows = store.key_model_usage(s, tid, start, end)
        for t in sorted({r.tenant_id for r in rows} - set(names)):
            names[t] = account_store.get_account(s, t).name
    by_tenant: dict[str, list[KeyModelUsage]] = defaultdict(list)
    for r in rows:
        by_tenant[r.tenant_id].append(r)
    out: list[KeyModelUsage] = []
    currency = p.settings.currency
    for t in ([tid] if tid is not None else sorted(by_tenant)):
        draft = billing.preview(p, actor, month, None if grant.own_tenant(tenant) else t)
        currency = draft.currency
        charges: dict[tuple[Meter, str], Decimal] = defaultdict(Decimal)
        for line in draft.rated.lines:
            if line.meter in TOKEN_METERS:
                charges[(Meter(line.meter), line.model)] += line.amount
        out += with_costs(by_tenant.get(t, []), dict(charges), t, currency)
    return InferenceUsage(period=month, currency=currency, as_of=now, tenants=names, rows=out)

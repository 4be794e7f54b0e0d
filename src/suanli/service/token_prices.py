"""Per-token list prices of one model, set in one call (``suanli price tokens``, ``POST /v1/prices/tokens``).

The list prices of tokens live in the platform's default plan (tenant ``*``) as rates of the token
meters with ``model`` = the deployment's name (:mod:`suanli.ledger.plans`; a tenant's plan may
override them). Changing them by hand is two plan calls (end the default plan in force, start a new
one with every rate copied and the model's changed); this does it in one transaction: the default
plan in force now ends now (a plan that starts now is replaced), and a new one starts now with the
same rates, the model's token rates replaced by the given ones, until the old one's end (or the next
default plan's start). Usage before now keeps its prices; the current month's draft prices each
token at the price in force when it was metered. Operator only (``SET_PRICE``); audited like every
write.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.meters import Meter
from suanli.errors import ValidationError
from suanli.ledger.plans import DEFAULT_TENANT, check_no_overlap
from suanli.service.plan_rows import plan_from_row
from suanli.service.plans import parse_plan, plan_dict, plan_spec
from suanli.service.platform import Platform
from suanli.store import billing as store
from suanli.store import price_corrections as correction_store
from suanli.store import reservations as reservation_store
from suanli.store.money_tables import PricePlanRow

METERS = {"input": Meter.INFERENCE_INPUT_TOKENS, "output": Meter.INFERENCE_OUTPUT_TOKENS,
          "cached": Meter.INFERENCE_CACHED_INPUT_TOKENS}
"""Field -> meter: the prompt tokens not served from cache, the completion tokens, the cached prompt tokens."""


def set_token_prices(p: Platform, actor: Principal, model: str, prices: Mapping[str, Mapping[str, Any] | None]
                     ) -> dict[str, Any]:
    """Set the model's price per million tokens of each meter given (``input``, ``output``, ``cached``;
    each ``{"price": "2"}`` or ``{"tiers": [{"up_to": "1", "price": "8"}, {"up_to": null, "price": "6"}]}``
    with ``up_to`` in million tokens of the month); returns the new default plan."""
    authorize(actor, Action.SET_PRICE)
    if not model or not isinstance(model, str):
        raise ValidationError("model is required: the deployment's name, as callers give it", field="model")
    given = {k: v for k, v in prices.items() if v is not None}
    unknown = sorted(set(given) - set(METERS))
    if unknown:
        raise ValidationError(f"unknown price fields {unknown}; allowed: {', '.join(METERS)}", field="prices")
    if not given:
        raise ValidationError("give at least one of input, output, cached (price per million tokens)", field="input")
    new_rates = []
    for key, spec in given.items():
        if not isinstance(spec, Mapping) or not set(spec) <= {"price", "tiers"} or not spec:
            raise ValidationError(f"{key} must be {{\"price\": P}} or {{\"tiers\": [{{\"up_to\", \"price\"}}, ...]}}",
                                  field=key)
        new_rates.append({"meter": METERS[key].value, "model": model, **spec})
    now = p.clock.now()
    with p.tx() as s:
        correction_store.lock_price_book(s, exclusive=True)
        defaults = [plan_from_row(r) for r in store.plans_for(s, [DEFAULT_TENANT])]
        current = next((x for x in defaults if x.covers(now)), None)
        later = min((x.effective_from for x in defaults if x.effective_from > now), default=None)
        changed = {(METERS[k], model) for k in given}
        kept = [] if current is None else [r for r in plan_spec(current)["rates"]
                                           if (Meter(r["meter"]), r["model"]) not in changed]
        end = current.effective_to if current is not None else later
        raw = {"tenant": DEFAULT_TENANT, "kind": "payg", "name": current.name if current else "list prices",
               "effective_from": now, "effective_to": end, "rates": kept + new_rates}
        plan = parse_plan(raw, "pl_" + secrets.token_hex(6), DEFAULT_TENANT, now)
        if current is not None:
            if current.effective_from >= now:
                reservation_store.delete_plan(s, current.id)
            else:
                reservation_store.set_plan_end(s, current.id, now)
        check_no_overlap(plan, [x for x in defaults if current is None or x.id != current.id])
        store.add_plan(s, PricePlanRow(id=plan.id, tenant=DEFAULT_TENANT, order_id="", kind=plan.kind.value,
                                       name=plan.name, effective_from=plan.effective_from,
                                       effective_to=plan.effective_to, spec=plan_spec(plan), paid=False,
                                       created_at=now))
        return plan_dict(plan, DEFAULT_TENANT)

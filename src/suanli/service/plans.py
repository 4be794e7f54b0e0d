"""Price plans: create and end (operator), list; rows <-> :class:`suanli.ledger.plans.PricePlan`.

A plan that holds capacity (``term``, ``commit``) is created together with its reservation
(:mod:`suanli.service.reservations`) in one transaction: if the fleet cannot hold its devices
the request is a 409 and nothing is written. Ending it gives the devices back."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.clock import EARLIEST, LATEST
from suanli.domain.leases import PAUSED_STATES, LeaseState
from suanli.domain.money import check_amount, to_decimal
from suanli.errors import ConflictError, NotFoundError, ValidationError
from suanli.ledger.meters import parse_meter
from suanli.ledger.plans import (
    DEFAULT_TENANT,
    PlanKind,
    PricePlan,
    Rate,
    Term,
    Tier,
    check_no_overlap,
    validate_plan,
)
from suanli.service import reservations, term_credits
from suanli.service.leases import advance, transition
from suanli.service.plan_rows import plan_from_row
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import billing as store
from suanli.store import leases as lease_store
from suanli.store import price_corrections as correction_store
from suanli.store import reservations as reservation_store
from suanli.store.leases import StaleClaim
from suanli.store.money_tables import PricePlanRow

PLAN_FIELDS = {"tenant", "kind", "order", "name", "effective_from", "effective_to", "rates", "discount", "term",
               "term_model", "term_devices", "commit_meter", "commit_model", "commit_quantity", "commit_price",
               "commit_devices", "paid", "training"}
MAX_RETRIES = 30


def _dec(v: Any, field: str) -> Decimal:
    return to_decimal(v, field=field)


def _price(v: Any, field: str) -> Decimal:
    """A plan's rate, tier price or commit price: in the documented money range (0 allowed: a free tier)."""
    return check_amount(v, field, allow_zero=True)


def _rates(raw: Any) -> tuple[Rate, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValidationError("rates must be a list of {meter, price, model?, unit?, tiers?}", field="rates")
    out = []
    for i, r in enumerate(raw):
        if not isinstance(r, Mapping):
            raise ValidationError(f"rates[{i}] must be an object", field="rates")
        extra = sorted(set(r) - {"meter", "price", "model", "unit", "tiers"})
        if extra:
            raise ValidationError(f"rates[{i}]: unknown fields {extra}; allowed: meter, price, model, unit, tiers",
                                  field="rates")
        meter = parse_meter(str(r.get("meter", "")))
        tiers = tuple(Tier(None if t.get("up_to") is None else _dec(t["up_to"], "tiers.up_to"),
                           _price(t.get("price"), "tiers.price")) for t in (r.get("tiers") or []))
        price = _price(r.get("price", tiers[0].price if tiers else None), f"rates[{i}].price")
        out.append(Rate(meter, price, r.get("model") or None, str(r.get("unit") or ""), tiers))
    return tuple(out)


def _aware(v: Any, field: str) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{field} must be an ISO-8601 date-time", field=field) from None
    if not isinstance(v, datetime) or v.tzinfo is None:
        raise ValidationError(f"{field} must be an ISO-8601 date-time with a time zone", field=field)
    if not EARLIEST <= v < LATEST:
        raise ValidationError(f"{field} {v.isoformat()} is out of range; allowed: {EARLIEST.date()} to "
                              f"{LATEST.date()}", field=field)
    return v


def _flag(v: Any, field: str) -> bool:
    if not isinstance(v, bool):
        raise ValidationError(f"{field} must be true or false", field=field)
    return v


def parse_plan(raw: Mapping[str, Any], plan_id: str, tenant_id: str, now: datetime | None = None) -> PricePlan:
    """``now``: the start of a plan that names no ``effective_from``."""
    unknown = sorted(set(raw) - PLAN_FIELDS)
    if unknown:
        raise ValidationError(f"unknown plan fields {unknown}; allowed: {sorted(PLAN_FIELDS)}", unknown=unknown)
    try:
        kind = PlanKind(str(raw.get("kind", "payg")))
    except ValueError:
        raise ValidationError(f"kind {raw.get('kind')!r} not allowed; allowed: "
                              f"{', '.join(k.value for k in PlanKind)}", field="kind") from None
    term = None
    if raw.get("term") is not None:
        try:
            term = Term(str(raw["term"]))
        except ValueError:
            raise ValidationError("term must be month or year", field="term") from None
    start = _aware(raw.get("effective_from"), "effective_from") or now
    if start is None:
        raise ValidationError("effective_from is required (ISO-8601)", field="effective_from")
    for key, longest in (("name", 200), ("order", 32), ("term_model", 64), ("commit_model", 64)):
        if len(str(raw.get(key) or "")) > longest:
            raise ValidationError(f"{key} is too long; allowed: at most {longest} characters", field=key)
    cm = raw.get("commit_meter")
    plan = PricePlan(
        id=plan_id, tenant=tenant_id, kind=kind, effective_from=start,
        effective_to=_aware(raw.get("effective_to"), "effective_to"), order=str(raw.get("order") or ""),
        rates=_rates(raw.get("rates")), discount=_dec(raw.get("discount", "0"), "discount"), term=term,
        term_model=str(raw.get("term_model") or ""), term_devices=_dec(raw.get("term_devices", "0"), "term_devices"),
        commit_meter=parse_meter(str(cm)) if cm else None, commit_model=str(raw.get("commit_model") or ""),
        commit_quantity=_dec(raw.get("commit_quantity", "0"), "commit_quantity"),
        commit_price=_price(raw.get("commit_price", "0"), "commit_price"),
        commit_devices=_dec(raw.get("commit_devices", "0"), "commit_devices"), paid=bool(raw.get("paid", False)),
        name=str(raw.get("name") or ""), training=_flag(raw.get("training", False), "training"))
    return validate_plan(plan)


def plan_spec(plan: PricePlan) -> dict[str, Any]:
    return {
        "rates": [{"meter": r.meter.value, "price": str(r.price), "model": r.model, "unit": r.unit,
                   "tiers": [{"up_to": None if t.up_to is None else str(t.up_to), "price": str(t.price)}
                             for t in r.tiers]} for r in plan.rates],
        "discount": str(plan.discount), "term": plan.term.value if plan.term else None,
        "term_model": plan.term_model, "term_devices": str(plan.term_devices),
        "commit_meter": plan.commit_meter.value if plan.commit_meter else None, "commit_model": plan.commit_model,
        "commit_quantity": str(plan.commit_quantity), "commit_price": str(plan.commit_price),
        "commit_devices": str(plan.commit_devices), "reservation": plan.reservation or None,
        "training": plan.training,
    }


def plan_dict(plan: PricePlan, tenant_name: str) -> dict[str, Any]:
    return {"id": plan.id, "tenant": tenant_name, "kind": plan.kind.value, "order": plan.order, "name": plan.name,
            "effective_from": plan.effective_from, "effective_to": plan.effective_to, "paid": plan.paid,
            **plan_spec(plan)}


def create_plan(p: Platform, actor: Principal, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A price plan for a tenant's contract or one order (operator only); ``tenant='*'`` is the
    platform's default plan (list prices of tokens, storage, egress, data)."""
    authorize(actor, Action.SET_PRICE)
    tenant = raw.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise ValidationError("tenant is required: a tenant account, or '*' for the default plan", field="tenant")
    for _attempt in range(MAX_RETRIES):
        try:
            with p.tx() as s:
                return _create(p, s, tenant, raw)
        except StaleClaim:
            continue
    raise ConflictError("too many concurrent grants for the same devices; retry the plan")


def _create(p: Platform, s: Session, tenant: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    now = p.clock.now()
    if tenant == DEFAULT_TENANT:
        tid, tname = DEFAULT_TENANT, DEFAULT_TENANT
    else:
        try:
            who = account_store.get_account(s, tenant)
        except NotFoundError:
            raise ValidationError(f"unknown tenant {tenant!r}", field="tenant") from None
        if who.role is not Role.TENANT:
            raise ValidationError(f"{tenant!r} is a {who.role.value}, not a tenant", field="tenant")
        if who.organisation is not None:  # a plan prices the organisation's orders, not one member's
            raise ValidationError(f"{tenant!r} is a member of organisation {who.organisation_name!r}; name the "
                                  "organisation", field="tenant")
        tid, tname = who.account_id, who.name
    plan = parse_plan(raw, "pl_" + secrets.token_hex(6), tid, now)
    if plan.held is not None:
        if tid == DEFAULT_TENANT or plan.order:
            raise ValidationError(f"a {plan.kind.value} plan holds devices for one tenant's contract: name a tenant, "
                                  "not '*' or an order", field="tenant" if tid == DEFAULT_TENANT else "order")
        if plan.effective_from < now:
            raise ValidationError(f"a {plan.kind.value} plan holds devices from its start, which cannot be in the past: "
                                  f"effective_from must be now ({now.isoformat()}) or later, or omitted for now",
                                  field="effective_from")
    check_no_overlap(plan, [plan_from_row(r) for r in store.plans_for(s, [tid])])
    if plan.held is not None:
        plan = dataclasses.replace(plan, reservation=reservations.reserve(p, s, plan, now))
    store.add_plan(s, PricePlanRow(id=plan.id, tenant=tid, order_id=plan.order, kind=plan.kind.value,
                                   name=plan.name, effective_from=plan.effective_from,
                                   effective_to=plan.effective_to, spec=plan_spec(plan), paid=plan.paid,
                                   created_at=now))
    return plan_dict(plan, tname)


def end_plan(p: Platform, actor: Principal, plan_id: str, at: datetime | None = None) -> dict[str, Any]:
    """End a plan at ``at`` (now when omitted; never in the past): it prices nothing after, and a
    plan that holds capacity gives its devices back then. A plan ended before it started is
    cancelled (removed; its reservation is kept, cancelled). A term fee already issued for time
    after the end gets a credit note for what the reservation does not hold, in the same
    transaction (:mod:`suanli.service.term_credits`)."""
    authorize(actor, Action.SET_PRICE)
    now = p.clock.now()
    at = now if at is None else at
    if at.tzinfo is None:
        raise ValidationError("at must be an ISO-8601 date-time with a time zone", field="at")
    if at < now:
        raise ValidationError(f"a plan ends now or later, never in the past (now: {now.isoformat()}); correcting "
                              "what was billed is a credit note", field="at")
    with p.tx() as s:
        # invoices being issued finish first (their fees get credited here), later ones see the end
        correction_store.lock_price_book(s, exclusive=True)
        row = reservation_store.get_plan_row(s, plan_id, for_update=True)
        plan = plan_from_row(row)
        if plan.effective_to is not None and plan.effective_to <= at:
            raise ConflictError(f"plan {plan_id} already ends at {plan.effective_to.isoformat()}", plan=plan_id)
        # its reservation as it is now: the moves due on it stored first (a start that came, an end that passed)
        res = advance(s, lease_store.get_lease(s, plan.reservation, for_update=True), now) if plan.reservation else None
        why = f"plan {plan_id} ended by {actor.name}"
        if at <= plan.effective_from:
            if res is not None and res.state in (LeaseState.SCHEDULED, LeaseState.ACTIVE):
                transition(s, res, LeaseState.CANCELLED, now, f"plan {plan_id} cancelled by {actor.name}")
                reservation_store.undraw(s, res.id, now)
            reservation_store.delete_plan(s, plan_id)
            out = plan_dict(plan, _tenant_name(s, plan.tenant))
            out["effective_to"] = plan.effective_from
            return out
        if res is not None and res.state in (LeaseState.SCHEDULED, LeaseState.ACTIVE, *PAUSED_STATES):
            reservations.release(s, res, at, now, why)
        reservation_store.set_plan_end(s, plan_id, at)
        ended = dataclasses.replace(plan, effective_to=at)
        # a fee issued in advance for time after the end: a credit note for what is not held, here
        term_credits.credit_unheld(p, s, ended, now, f"plan ended at {at.isoformat()} by {actor.name}")
        return plan_dict(ended, _tenant_name(s, plan.tenant))


def _tenant_name(s: Session, tenant_id: str) -> str:
    return tenant_id if tenant_id == DEFAULT_TENANT else account_store.get_account(s, tenant_id).name


def list_plans(p: Platform, actor: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
    """A tenant's plans and the default plan (a tenant its own; the operator: all, or one tenant's)."""
    grant = authorize(actor, Action.READ_PLANS)
    with p.tx() as s:
        if grant.own_tenant(tenant):
            ids = {actor.tenant_id: actor.tenant_name, DEFAULT_TENANT: DEFAULT_TENANT}
        elif tenant:
            who = account_store.get_account(s, tenant)
            ids = {who.account_id: who.name}
        else:
            ids = {a.account_id: a.name for a in account_store.list_accounts(s)} | {DEFAULT_TENANT: DEFAULT_TENANT}
        rows = store.plans_for(s, ids)
    return [plan_dict(plan_from_row(r), ids[r.tenant]) for r in rows]

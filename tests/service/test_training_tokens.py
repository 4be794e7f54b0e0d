"""Training billed by token: a job's lease token reports ``training_tokens`` for its own lease only
(another lease 404, another meter 403, another tenant 404, a foreign source 422; nothing written);
under a training-token plan of the order the lease's device time shows at 0 and the tokens are
billed at the plan's rate, beside a lease without the plan billed at list price. Totals by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import accounts, billing, orders, plans, usage
from suanli.service.platform import Platform
from suanli.service.tokens import TokenOptions, create_token
from suanli.store.money_tables import UsageEventRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant


def lease_of(p: Platform, tenant: Principal) -> tuple[str, str]:
    res = orders.create_order(p, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    assert res.order.lease_id
    return res.order.id, res.order.lease_id


def job_token(p: Platform, tenant: Principal, lease: str) -> Principal:
    _t, secret = create_token(p, tenant, TokenOptions(scope="lease", lease=lease, label="trainer"))
    return accounts.authenticate(p, secret)


def event(lease: str, ident: str, quantity: int | str, clock: FakeClock, **over: Any) -> dict[str, Any]:
    e = {"id": ident, "source": f"lease/{lease}", "type": "training_tokens", "subject": "acme",
         "time": clock.now().isoformat(), "data": {"quantity": quantity}}
    data = over.pop("data", {})
    e.update(over)
    e["data"] = {**e["data"], **data}
    return e


def events_stored(p: Platform) -> int:
    with p.read() as s:
        return int(s.scalar(select(func.count()).select_from(UsageEventRow)) or 0)


@pytest.fixture
def job(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock
        ) -> tuple[Platform, Principal, str, str, str]:
    order_a, lease_a = lease_of(demo, tenant)
    _order_b, lease_b = lease_of(demo, tenant)
    return demo, job_token(demo, tenant, lease_a), order_a, lease_a, lease_b


def test_a_lease_token_reports_for_its_own_lease_only(job: tuple[Platform, Principal, str, str, str],
                                                      operator: Principal, clock: FakeClock) -> None:
    p, tok, _order, lease_a, lease_b = job
    before = events_stored(p)
    with pytest.raises(NotFoundError) as e:  # another lease of the same tenant: as if it did not exist
        usage.ingest(p, tok, [event(lease_a, "e1", 10, clock, data={"lease": lease_b})])
    assert lease_b in e.value.message
    with pytest.raises(PermissionDeniedError) as d:  # another meter
        usage.ingest(p, tok, [event(lease_a, "e2", 10, clock, type="inference_output_tokens")])
    assert "training_tokens only" in d.value.message
    with pytest.raises(PermissionDeniedError):  # device time: never reported by a job
        usage.ingest(p, tok, [event(lease_a, "e3", 10, clock, type="device_seconds", data={"model": "L20"})])
    make_tenant(p, operator, "other")
    with pytest.raises(NotFoundError):  # another tenant
        usage.ingest(p, tok, [event(lease_a, "e4", 10, clock, subject="other")])
    with pytest.raises(ValidationError) as v:  # a source outside its lease's
        usage.ingest(p, tok, [event(lease_a, "e5", 10, clock, source=f"lease/{lease_b}")])
    assert f"lease/{lease_a}" in v.value.message
    with pytest.raises(NotFoundError):  # one bad event in a batch: nothing of it is written
        usage.ingest(p, tok, [event(lease_a, "ok", 10, clock), event(lease_a, "e6", 1, clock, data={"lease": "lse_x"})])
    assert events_stored(p) == before
    r = usage.ingest(p, tok, [event(lease_a, "ok", 10, clock)])
    assert (r.accepted, r.duplicates) == (1, 0)
    assert usage.ingest(p, tok, [event(lease_a, "ok", 10, clock)]).duplicates == 1


def test_other_tokens_may_not_report(job: tuple[Platform, Principal, str, str, str], tenant: Principal,
                                     clock: FakeClock) -> None:
    p, _tok, _order, lease_a, _b = job
    with pytest.raises(PermissionDeniedError) as e:  # the tenant's own full token: reporting usage is the operator's
        usage.ingest(p, tenant, [event(lease_a, "x", 10, clock)])
    assert "lease's token" in e.value.message


def test_a_training_token_plan_bills_tokens_and_shows_device_time_at_0(
        job: tuple[Platform, Principal, str, str, str], operator: Principal, clock: FakeClock) -> None:
    p, tok, order_a, lease_a, lease_b = job
    made = plans.create_plan(p, operator, {"tenant": "acme", "kind": "payg", "order": order_a, "training": True,
                                           "rates": [{"meter": "training_tokens", "price": "3"}]})
    assert made["training"] is True
    clock.advance(hours=2)
    usage.ingest(p, tok, [event(lease_a, f"step-{i}", 1_250_000, clock) for i in range(4)])
    draft = billing.preview(p, operator, clock.now().strftime("%Y-%m"), "acme")
    lines = sorted((x.meter, x.lease, x.plan, x.quantity, x.unit_price, x.amount) for x in draft.rated.lines)
    # by hand: lease A 2 device-hours shown at 0 under the plan; lease B 2 h x 2.60 (L20 list) = 5.20;
    # training tokens 4 x 1.25 M = 5 M x 3 = 15.00 under the plan
    assert lines == sorted([("device_seconds", lease_a, made["id"], Decimal(2), Decimal(0), Decimal("0.00")),
                            ("device_seconds", lease_b, "", Decimal(2), Decimal("2.60"), Decimal("5.20")),
                            ("training_tokens", lease_a, made["id"], Decimal(5), Decimal(3), Decimal("15.00"))])
    assert draft.settlement.subtotal == Decimal("20.20")


@pytest.mark.parametrize(("spec", "says"), [
    ({"kind": "spot", "discount": "0.3"}, "payg plan of one order"),
    ({"order": ""}, "without an order"),
    ({"rates": [{"meter": "inference_input_tokens", "price": "1"}]}, "needs a training_tokens rate"),
    ({"rates": [{"meter": "training_tokens", "price": "1"},
                {"meter": "device_seconds", "price": "1", "unit": "device_hour"}]}, "bills no device time"),
    ({"training": "yes"}, "true or false"),
])
def test_a_bad_training_plan_is_refused(job: tuple[Platform, Principal, str, str, str], operator: Principal,
                                        spec: dict[str, Any], says: str) -> None:
    p, _tok, order_a, _a, _b = job
    raw = {"tenant": "acme", "kind": "payg", "order": order_a, "training": True,
           "rates": [{"meter": "training_tokens", "price": "3"}], **spec}
    with pytest.raises(ValidationError) as e:
        plans.create_plan(p, operator, raw)
    assert says in e.value.message

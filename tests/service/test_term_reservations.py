"""Terms and take-or-pay hold what they sell: a plan that promises devices reserves them, the
tenant's orders draw on the reservation, the fee is billed only for a reservation that was
granted, and a commitment that holds nothing is named a spend commitment. SQLite and PostgreSQL.

The demo fleet has 32 H800 (4 nodes x 8) and 24 RTX-4090 (3 x 8).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.domain.capacity import max_load_per_device
from suanli.domain.leases import LeaseState, ProductForm
from suanli.errors import CapacityError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import billing, leases, orders, plans
from suanli.service.platform import Platform
from suanli.store.money_tables import PricePlanRow
from suanli.store.tables import AllocationRow, LeaseRow, OrderRow
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

H800_P = Decimal("0.9894")
NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)  # the clock fixture's start
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def term(p: Platform, op: Principal, devices: int, **more: Any) -> dict[str, Any]:
    return plans.create_plan(p, op, {"tenant": "acme", "kind": "term", "term": "month", "term_model": "H800",
                                     "term_devices": devices, "discount": "0.2", "paid": True,
                                     "effective_from": NOW.isoformat(), **more})


def order(p: Platform, who: Principal, quantity: int, model: str = "H800", **more: Any) -> str:
    res = orders.create_order(p, who, {"form": "gpu", "quantity": quantity, "models": [model], **more})
    assert res.order.status == "fulfilled" and res.order.lease_id is not None, res.order.reason
    return res.order.lease_id


def allocations(p: Platform, lease_id: str) -> list[tuple[int, str | None]]:
    with p.tx() as s:
        return [(a.device_id, a.drawn_from) for a in s.scalars(
            select(AllocationRow).where(AllocationRow.lease_id == lease_id,
                                        (AllocationRow.end_at.is_(None)) | (AllocationRow.end_at > AllocationRow.start_at)))]


def counts(p: Platform) -> tuple[int, ...]:
    with p.tx() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0
                     for t in (PricePlanRow, OrderRow, LeaseRow, AllocationRow))


def no_device_over_capacity(p: Platform) -> None:
    with p.tx() as s:
        rows = [(a.device_id, a.start_at, a.end_at, a.milli)
                for a in s.scalars(select(AllocationRow).where(AllocationRow.drawn_from.is_(None)))]
    assert max(max_load_per_device(rows).values(), default=0) <= 1000


@pytest.fixture
def beta(demo: Platform, operator: Principal) -> Principal:
    return make_tenant(demo, operator, "beta")


def test_a_term_plan_reserves_its_devices_and_others_cannot_take_them(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal) -> None:
    pl = term(demo, operator, 24)
    assert pl["reservation"] and pl["kind"] == "term"
    res, _events = leases.get_lease(demo, operator, pl["reservation"])
    assert res.form is ProductForm.RESERVATION and res.state is LeaseState.ACTIVE and res.tenant_id == tenant.account_id
    assert len(res.allocations) == 24 and {a.model for a in res.allocations} == {"H800"}
    assert res.start == NOW and res.end is None
    order(demo, beta, 8)  # the last 8 free H800
    with pytest.raises(CapacityError):
        orders.create_order(demo, beta, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    no_device_over_capacity(demo)


def test_the_tenants_orders_draw_on_its_reservation_first(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, 8)
    reserved = {d for d, _ in allocations(demo, pl["reservation"])}
    order(demo, beta, 8)
    order(demo, beta, 8)
    order(demo, beta, 8)  # beta now holds every H800 the reservation does not
    lease_id = order(demo, tenant, 8)
    drawn = allocations(demo, lease_id)
    assert {d for d, _ in drawn} == reserved and {f for _, f in drawn} == {pl["reservation"]}
    lease, _ = leases.get_lease(demo, tenant, lease_id)
    assert lease.placement.startswith(f"drawn on reservation {pl['reservation']}")
    with pytest.raises(CapacityError):  # the reservation is all drawn, the fleet is full
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    no_device_over_capacity(demo)
    # an order of another model is placed on the fleet as usual
    assert {f for _, f in allocations(demo, order(demo, tenant, 2, "RTX-4090"))} == {None}
    # the tenant cannot end, cancel or extend the reservation itself
    with pytest.raises(ConflictError, match="ends with the plan"):
        leases.end_lease(demo, tenant, pl["reservation"])
    with pytest.raises(ConflictError, match="reservation of a price plan"):
        orders.cancel_order(demo, tenant, leases.get_lease(demo, tenant, pl["reservation"])[0].order_id)
    # billing: the fee for the term, the drawn lease's time covered by it, the reservation not metered
    clock.advance(hours=10)
    leases.end_lease(demo, tenant, lease_id)
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (fee,) = [x for x in doc["lines"] if x["kind"] == "term_fee"]
    hourly = Decimal(90000) * H800_P / 8760
    assert fee["quantity"] == 8 * 720 and fee["amount"] == cents(8 * 720 * hourly * Decimal("0.8"))
    assert fee["amount"] == Decimal("46840.64")  # the issue's figure, now for devices that are held
    covered = [x for x in doc["lines"] if x["kind"] == "term_covered"]
    assert sum(x["quantity"] for x in covered) == 80 and all(x["lease"] == lease_id for x in covered)
    assert not [x for x in doc["lines"] if x["lease"] == pl["reservation"]]
    h800_usage = [x for x in doc["lines"] if x["kind"] == "usage" and x["model"] == "H800"]
    assert h800_usage == []


def test_a_term_for_more_devices_than_the_fleet_holds_is_a_409_and_writes_nothing(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal, clock: FakeClock) -> None:
    before = counts(demo)
    with pytest.raises(CapacityError, match="cannot hold 33 x H800") as e:
        term(demo, operator, 33)
    assert e.value.status == 409 and "nothing was written" in e.value.message
    assert counts(demo) == before
    order(demo, beta, 8)
    order(demo, beta, 8)
    with pytest.raises(CapacityError, match="cannot hold 24 x H800"):  # only 16 are free
        term(demo, operator, 24)
    assert counts(demo)[0] == 0 and plans.list_plans(demo, operator, "acme") == []
    term(demo, operator, 16)  # what is free can be held
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert len([x for x in doc["lines"] if x["kind"] == "term_fee"]) == 1  # the one granted, not the refused


def test_a_term_without_a_granted_reservation_bills_no_fee_and_covers_nothing(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    """A term plan recorded before reservations existed (no ``reservation``) sells nothing."""
    with demo.tx() as s:
        s.add(PricePlanRow(id="pl_legacy", tenant=tenant.account_id, order_id="", kind="term", name="",
                           effective_from=NOW, effective_to=None, paid=True, created_at=NOW,
                           spec={"term": "month", "term_model": "H800", "term_devices": "8", "discount": "0.2"}))
    lease_id = order(demo, tenant, 2)
    clock.advance(hours=1)
    leases.end_lease(demo, tenant, lease_id)
    lines = billing.preview(demo, tenant, "2026-11").rated.lines
    assert not [x for x in lines if x.kind in ("term_fee", "term_covered")]
    (use,) = [x for x in lines if x.kind == "usage"]
    assert use.quantity == 2 and use.amount == cents(2 * Decimal(90000) * H800_P / 8760 * Decimal("0.8"))
    (listed,) = [x for x in plans.list_plans(demo, operator, "acme")]
    assert listed["reservation"] is None


def test_ending_the_plan_gives_the_devices_back(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, 32)
    with pytest.raises(CapacityError):
        orders.create_order(demo, beta, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    mine = order(demo, tenant, 8)
    assert {f for _, f in allocations(demo, mine)} == {pl["reservation"]}
    clock.advance(days=2)
    with pytest.raises(ValidationError, match="never in the past"):
        plans.end_plan(demo, operator, pl["id"], at=clock.now() - timedelta(hours=1))
    ended = plans.end_plan(demo, operator, pl["id"])
    assert ended["effective_to"] == clock.now()
    res, _ = leases.get_lease(demo, operator, pl["reservation"])
    assert res.state is LeaseState.ENDED and res.ended_at == clock.now()
    # the tenant's drawn lease keeps its devices, now counted against the fleet; the other 24 are free
    parts = allocations(demo, mine)  # drawn until the end, its own from then on
    assert sorted(f or "" for _, f in parts) == [""] * 8 + [pl["reservation"]] * 8
    order(demo, beta, 8)
    order(demo, beta, 8)
    order(demo, beta, 8)
    with pytest.raises(CapacityError):
        orders.create_order(demo, beta, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    no_device_over_capacity(demo)
    with pytest.raises(ConflictError, match="already ends"):
        plans.end_plan(demo, operator, pl["id"])


def test_ending_a_plan_later_shortens_its_reservation_and_before_its_start_cancels_it(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal, clock: FakeClock) -> None:
    pl = term(demo, operator, 32)
    plans.end_plan(demo, operator, pl["id"], at=NOW + timedelta(days=5))
    res, _ = leases.get_lease(demo, operator, pl["reservation"])
    assert res.end == NOW + timedelta(days=5) and res.state is LeaseState.ACTIVE
    # after day 5 the devices are free again: a reservation from then on fits
    later = order(demo, beta, 8, start=NOW + timedelta(days=5))
    assert {f for _, f in allocations(demo, later)} == {None}
    future = plans.create_plan(demo, operator, {"tenant": "acme", "kind": "term", "term": "month",
                                                "term_model": "H800", "term_devices": 8,
                                                "effective_from": (NOW + timedelta(days=10)).isoformat()})
    assert leases.get_lease(demo, operator, future["reservation"])[0].state is LeaseState.SCHEDULED
    plans.end_plan(demo, operator, future["id"])  # before its start: cancelled, removed
    assert leases.get_lease(demo, operator, future["reservation"])[0].state is LeaseState.CANCELLED
    assert [x["id"] for x in plans.list_plans(demo, operator, "acme")] == [pl["id"]]
    no_device_over_capacity(demo)


def test_take_or_pay_holds_its_devices_and_a_spend_commitment_holds_nothing(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal, clock: FakeClock) -> None:
    commit = {"tenant": "acme", "kind": "commit", "paid": True, "commit_meter": "device_seconds",
              "commit_model": "RTX-4090", "commit_quantity": "1000", "commit_price": "1.50"}
    with pytest.raises(ValidationError, match="spend_commitment"):
        plans.create_plan(demo, operator, commit)  # promises no devices: not a take-or-pay
    with pytest.raises(CapacityError, match="cannot hold 25 x RTX-4090"):
        plans.create_plan(demo, operator, commit | {"commit_devices": 25})
    pl = plans.create_plan(demo, operator, commit | {"commit_devices": 16, "effective_to": DEC1.isoformat()})
    assert pl["reservation"] and pl["commit_devices"] == "16"
    order(demo, beta, 8, "RTX-4090")
    with pytest.raises(CapacityError):
        orders.create_order(demo, beta, {"form": "gpu", "quantity": 1, "models": ["RTX-4090"]})
    spend = plans.create_plan(demo, operator, {"tenant": "beta", "kind": "spend_commitment",
                                               "commit_meter": "inference_output_tokens", "commit_quantity": "10",
                                               "commit_price": "3", "effective_from": NOW.isoformat()})
    assert spend["kind"] == "spend_commitment" and spend["reservation"] is None
    with pytest.raises(ValidationError, match="commit_devices belongs to a take-or-pay"):
        plans.create_plan(demo, operator, {"tenant": "beta", "kind": "spend_commitment", "commit_devices": 2,
                                           "commit_meter": "device_seconds", "commit_model": "L20",
                                           "commit_quantity": "10", "commit_price": "3",
                                           "effective_from": DEC1.isoformat()})
    clock.set(DEC1)
    (true_up,) = [x for x in billing.issue_invoice(demo, operator, "beta", "2026-11")["lines"]
                  if x["kind"] == "commit_true_up"]
    assert "spend commitment (holds no capacity)" in true_up["description"]
    (held,) = [x for x in billing.issue_invoice(demo, operator, "acme", "2026-11")["lines"]
               if x["kind"] == "commit_true_up"]
    assert held["description"].startswith("take-or-pay shortfall")


def test_plans_that_hold_capacity_refuse_the_past_an_order_scope_and_fractions(
        demo: Platform, operator: Principal, tenant: Principal) -> None:
    with pytest.raises(ValidationError, match="cannot be in the past"):
        term(demo, operator, 8, effective_from=(NOW - timedelta(minutes=1)).isoformat())
    with pytest.raises(ValidationError, match="whole number of devices"):
        term(demo, operator, "1.5")
    with pytest.raises(ValidationError, match="one tenant's contract"):
        plans.create_plan(demo, operator, {"tenant": "*", "kind": "term", "term": "month", "term_model": "H800",
                                           "term_devices": 1, "effective_from": NOW.isoformat()})
    assert counts(demo)[0] == 0


def test_no_tenant_creates_or_ends_a_plan(demo: Platform, operator: Principal, tenant: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        term(demo, tenant, 8)
    pl = term(demo, operator, 8)
    with pytest.raises(PermissionDeniedError):
        plans.end_plan(demo, tenant, pl["id"])
    with pytest.raises(ValidationError, match="not a product form"):
        orders.create_order(demo, tenant, {"form": "reservation", "quantity": 1})


def test_a_failed_node_moves_the_reservation_and_the_leases_drawn_on_it_follow(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    from suanli.service import fleet, health
    from suanli.store import engine as engine_store
    pl = term(demo, operator, 8)
    mine = order(demo, tenant, 8)
    node = leases.get_lease(demo, tenant, mine)[0].allocations[0].node
    clock.advance(hours=2)
    fleet.set_node_state(demo, operator, node, "down", "PSU failed")
    report = health.check_health(demo)
    assert sorted(report.interrupted) == sorted([mine, pl["reservation"]])
    assert report.replaced == [pl["reservation"], mine]  # the reservation first, then what draws on it
    res = leases.get_lease(demo, operator, pl["reservation"])[0]
    held = {a.device_id for a in res.allocations if a.end is None}
    assert len(held) == 8 and node not in {a.node for a in res.allocations if a.end is None}
    with demo.tx() as s:
        open_rows = [(a.device_id, a.drawn_from) for a in s.scalars(
            select(AllocationRow).where(AllocationRow.lease_id == mine, AllocationRow.end_at.is_(None)))]
    assert {d for d, _ in open_rows} == held and {f for _, f in open_rows} == {pl["reservation"]}  # not 8 more
    with demo.tx() as s:
        assert engine_store.sla_credits(s, lease_id=pl["reservation"]) == []  # its fee pays for it
        assert len(engine_store.sla_credits(s, lease_id=mine)) == 1
    no_device_over_capacity(demo)


def test_concurrent_orders_never_draw_more_than_the_reservation_holds(
        demo: Platform, operator: Principal, tenant: Principal) -> None:
    """12 orders of 2 H800 at once against a reservation of 8: 4 draw on it, the rest go to the fleet."""
    from concurrent.futures import ThreadPoolExecutor
    pl = term(demo, operator, 8)
    reserved = {d for d, _ in allocations(demo, pl["reservation"])}
    with ThreadPoolExecutor(12) as pool:
        leased = list(pool.map(lambda _i: order(demo, tenant, 2), range(12)))
    drawn = [lease for lease in leased if {f for _, f in allocations(demo, lease)} == {pl["reservation"]}]
    assert len(drawn) == 4
    with demo.tx() as s:
        rows = [(a.device_id, a.start_at, a.end_at, a.milli) for a in s.scalars(
            select(AllocationRow).where(AllocationRow.drawn_from == pl["reservation"]))]
    assert {d for d, *_ in rows} == reserved and max(max_load_per_device(rows).values()) == 1000
    no_device_over_capacity(demo)


STEPS = st.lists(st.tuples(st.sampled_from(["term", "order", "order", "end_lease", "end_plan", "end_plan", "advance"]),
                           st.integers(0, 1), st.integers(1, 12), st.integers(0, 3)), min_size=1, max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
@example(steps=[("term", 0, 8, 0), ("order", 0, 4, 0), ("advance", 0, 1, 0), ("end_plan", 0, 0, 0),
                ("order", 1, 8, 0)])
@example(steps=[("term", 0, 12, 0), ("order", 0, 8, 0), ("end_plan", 0, 0, 2), ("advance", 0, 3, 0)])
def test_what_is_drawn_never_exceeds_what_is_held(demo: Platform, operator: Principal, clock: FakeClock,
                                                    steps: list[tuple[str, int, int, int]]) -> None:
    """Any sequence of terms (now or later, open or fixed), orders (drawn or not), lease and plan
    ends: on every device, the allocations drawn on a reservation lie inside the reservation's own
    windows there and never load it beyond 1000 milli; every other allocation fits the device."""
    who = [make_tenant(demo, operator, f"t-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    made_plans: list[str] = []
    made_leases: list[str] = []
    for op, t, n, k in steps:
        try:
            if op == "term":
                start = clock.now() + timedelta(hours=k)
                pl = plans.create_plan(demo, operator, {
                    "tenant": who[t].name, "kind": "term", "term": "month", "term_model": "H800", "term_devices": n,
                    "effective_from": start.isoformat(),
                    **({"effective_to": (start + timedelta(hours=6 * k)).isoformat()} if k else {})})
                made_plans.append(pl["id"])
            elif op == "order":
                made_leases.append(order(demo, who[t], min(n, 8), **({"hours": k * 3} if k else {})))
            elif op == "end_lease" and made_leases:
                leases.end_lease(demo, operator, made_leases[n % len(made_leases)])
            elif op == "end_plan" and made_plans:
                plans.end_plan(demo, operator, made_plans[n % len(made_plans)],
                               at=clock.now() + timedelta(hours=k) if k else None)
            elif op == "advance":
                clock.advance(hours=n)
        except (CapacityError, ConflictError, NotFoundError, ValidationError):
            pass  # refused: nothing written (checked by the invariants below)
        no_device_over_capacity(demo)
        with demo.tx() as s:
            rows = list(s.scalars(select(AllocationRow).where(AllocationRow.end_at.is_(None)
                                                              | (AllocationRow.end_at > AllocationRow.start_at))))
        own = {}
        for a in rows:
            own.setdefault((a.lease_id, a.device_id), []).append((a.start_at, a.end_at))
        drawn: dict[tuple[str, int], list[tuple[datetime, datetime | None, int]]] = {}
        for a in rows:
            if a.drawn_from is None:
                continue
            held = own.get((a.drawn_from, a.device_id), [])
            far = datetime.max.replace(tzinfo=UTC)
            assert any(hs <= a.start_at and (a.end_at or far) <= (he or far) for hs, he in held), \
                f"allocation {a.id} drawn on {a.drawn_from} outside what it holds on device {a.device_id}"
            drawn.setdefault((a.drawn_from, a.device_id), []).append((a.start_at, a.end_at, a.milli))
        for (_res, device), windows in drawn.items():
            assert max_load_per_device([(device, a, b, m) for a, b, m in windows]).get(device, 0) <= 1000


def test_a_prepaid_tenants_leases_on_its_reservation_are_not_counted_in_its_burn_or_suspended(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    from suanli.service import wallets
    wallets.set_policy(demo, operator, "acme", Decimal(4), Decimal(2))
    wallets.top_up(demo, operator, "acme", Decimal("30.00"))
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "term", "term": "month", "term_model": "L20",
                                       "term_devices": 8})
    on_term = order(demo, tenant, 4, "L20")  # drawn: paid by the term's fee
    payg = order(demo, tenant, 4, "RTX-4090")  # 4 x 2.10 = 8.40/h at the list price
    assert wallets.show_wallet(demo, tenant)["burn_per_hour"] == Decimal("8.40")
    clock.advance(hours=2)  # 16.80 accrued: runway (30 - 16.80) / 8.40 = 1.57 h < 2
    changes = wallets.enforce_runway(demo)
    assert [c["leases"] for c in changes if c["action"] == "suspend"] == [[payg]]
    assert leases.get_lease(demo, tenant, on_term)[0].state is LeaseState.ACTIVE


def test_a_lease_on_the_reservation_extends_on_it_while_the_reservation_has_room(
        demo: Platform, operator: Principal, tenant: Principal, beta: Principal) -> None:
    pl = term(demo, operator, 8)
    for _ in range(3):
        order(demo, beta, 8)  # the fleet is full but for the reservation
    first = order(demo, tenant, 8, hours=2)
    extended = leases.extend_lease(demo, tenant, first, hours=3)
    assert extended.end == NOW + timedelta(hours=5)
    assert {(a.end, a.drawn_from) for a in extended.allocations} == {(NOW + timedelta(hours=5), pl["reservation"])}
    later = order(demo, tenant, 8, start=NOW + timedelta(hours=5), hours=1)
    assert {f for _, f in allocations(demo, later)} == {pl["reservation"]}
    with pytest.raises(CapacityError, match="taken or unavailable"):
        leases.extend_lease(demo, tenant, first, hours=1)
    no_device_over_capacity(demo)


def test_a_lease_on_the_reservation_does_not_extend_past_it(
        demo: Platform, operator: Principal, tenant: Principal) -> None:
    pl = term(demo, operator, 8, effective_to=(NOW + timedelta(hours=3)).isoformat())
    lease_id = order(demo, tenant, 8, hours=2)
    assert {f for _, f in allocations(demo, lease_id)} == {pl["reservation"]}
    with pytest.raises(CapacityError, match=f"lies on reservation {pl['reservation']}"):
        leases.extend_lease(demo, tenant, lease_id, hours=2)
    assert leases.extend_lease(demo, tenant, lease_id, hours=1).end == NOW + timedelta(hours=3)

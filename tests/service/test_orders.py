"""Orders and leases through the service layer, on real SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.domain.leases import LeaseState
from suanli.errors import CapacityError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import fleet, leases, orders
from suanli.service.platform import Platform
from suanli.store.tables import AllocationRow, LeaseRow, OrderRow
from suanli.testing.clock import FakeClock as Clock
from suanli.testing.factories import make_tenant


def order(plat: Platform, who: Principal, /, **raw: object) -> str:
    res = orders.create_order(plat, who, raw)
    assert res.order.status == "fulfilled", res.order.reason
    assert res.order.lease_id is not None
    return res.order.lease_id


def rows(p: Platform) -> tuple[int, int, int]:
    with p.tx() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (OrderRow, LeaseRow, AllocationRow))  # type: ignore[return-value]


def test_gpu_order_holds_exact_devices_on_one_node(demo: Platform, tenant: Principal) -> None:
    lease_id = order(demo, tenant, form="gpu", quantity=2, models=["H800"])
    lease, events = leases.get_lease(demo, tenant, lease_id)
    assert lease.state is LeaseState.ACTIVE
    assert len(lease.allocations) == 2 and {a.model for a in lease.allocations} == {"H800"}
    assert len({a.node for a in lease.allocations}) == 1
    assert all(a.milli == 1000 for a in lease.allocations)
    assert events[0]["to"] == "active"


def test_every_product_form(demo: Platform, tenant: Principal) -> None:
    server = leases.get_lease(demo, tenant, order(demo, tenant, form="server", models=["A800"]))[0]
    assert len(server.allocations) == 8 and len({a.node for a in server.allocations}) == 1
    cluster = leases.get_lease(demo, tenant, order(demo, tenant, form="cluster", quantity=3, models=["H800"]))[0]
    assert len(cluster.allocations) == 24 and len({a.fabric for a in cluster.allocations}) == 1
    piece = leases.get_lease(demo, tenant, order(demo, tenant, form="slice", share_pct=25, memory_mib=8192,
                                                 models=["L20"]))[0]
    (a,) = piece.allocations
    assert a.milli == 250 and a.memory_mib == 8192 and a.model == "L20"
    # memory dominates: 40 GiB of a 48 GiB L20 is 834 milli even at 10% compute
    big = leases.get_lease(demo, tenant, order(demo, tenant, form="slice", share_pct=10, memory_mib=40960,
                                               models=["L20"]))[0]
    assert big.allocations[0].milli == 834


def test_flops_picks_the_cheapest_per_p_and_covers_the_demand(demo: Platform, tenant: Principal) -> None:
    lease = leases.get_lease(demo, tenant, order(demo, tenant, form="flops", p="2"))[0]
    models = {a.model for a in lease.allocations}
    assert models == {"Ascend-910B"}  # 60,000 元/P/年 is the cheapest per P in the demo book
    assert sum(Decimal("0.313") for _ in lease.allocations) >= 2
    assert len({a.fabric for a in lease.allocations}) == 1
    nvidia = leases.get_lease(demo, tenant, order(demo, tenant, form="flops", p="1", vendors=["nvidia"],
                                                  min_memory_gib=80, topology="node"))[0]
    assert {a.model for a in nvidia.allocations} <= {"H800", "A800", "A100-80GB"}
    assert len({a.node for a in nvidia.allocations}) == 1


def test_no_capacity_is_rejected_with_reason_and_holds_nothing(demo: Platform, tenant: Principal) -> None:
    for _ in range(2):
        order(demo, tenant, form="server", models=["A800"])
    before = rows(demo)
    with pytest.raises(CapacityError, match="rejected") as e:
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["A800"]})
    lease, _ = leases.get_lease(demo, tenant, e.value.details["lease"])
    assert lease.state is LeaseState.REJECTED and lease.reason.startswith("no_capacity")
    assert rows(demo) == (before[0] + 1, before[1] + 1, before[2])  # recorded, no devices held


@pytest.mark.parametrize(("raw", "error", "message"), [
    ({"form": "gpu", "quantity": 9, "models": ["H800"]}, ValidationError, "no node can hold 9 devices"),
    ({"form": "gpu", "quantity": 1, "models": ["B300"]}, ValidationError, "unknown model 'B300'"),
    ({"form": "gpu", "quantity": 1, "sites": ["mars-1"]}, ValidationError, "unknown sites ['mars-1']"),
    ({"form": "cluster", "quantity": 5, "models": ["H800"]}, ValidationError, "no fabric domain has 5 matching nodes"),
    ({"form": "slice", "share_pct": 10, "memory_mib": 200000}, ValidationError, "has 200000 MiB of memory"),
    ({"form": "gpu", "quantity": 0}, ValidationError, "quantity must be between 1"),
])
def test_bad_orders_write_nothing(demo: Platform, tenant: Principal, raw: dict[str, object],
                                  error: type[Exception], message: str) -> None:
    before = rows(demo)
    with pytest.raises(error) as e:
        orders.create_order(demo, tenant, raw)
    assert message in str(e.value)
    assert rows(demo) == before


def test_reservations_and_active_leases_never_overlap(demo: Platform, tenant: Principal, clock: Clock) -> None:
    start = clock.now() + timedelta(hours=2)
    for _ in range(2):  # both A800 servers reserved for [now+2h, now+4h)
        lid = order(demo, tenant, form="server", models=["A800"], start=start, hours=2)
        assert leases.get_lease(demo, tenant, lid)[0].state is LeaseState.SCHEDULED
    # a 1-hour rental now fits before the reservations; a 3-hour one would overlap them
    order(demo, tenant, form="gpu", quantity=8, models=["A800"], hours=1)
    with pytest.raises(CapacityError):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 3})
    clock.advance(hours=2, seconds=1)
    active = leases.list_leases(demo, tenant, state="active")
    assert sum(len(x.allocations) for x in active if x.allocations[0].model == "A800") == 16
    clock.advance(hours=2)
    assert not [x for x in leases.list_leases(demo, tenant, state="active") if x.allocations[0].model == "A800"]


def test_extend_when_capacity_allows_else_refuse(demo: Platform, tenant: Principal, operator: Principal,
                                                 clock: Clock) -> None:
    other = make_tenant(demo, operator, "beta")
    first = order(demo, tenant, form="server", models=["A800"], hours=1)
    order(demo, tenant, form="server", models=["A800"], hours=1)
    # the other tenant reserves one A800 server from +3h
    order(demo, other, form="server", models=["A800"], start=clock.now() + timedelta(hours=3), hours=1)
    ext = leases.extend_lease(demo, tenant, first, hours=1)
    assert ext.end == clock.now() + timedelta(hours=2)
    # +2h more would overlap one of the two servers' reservation: only ok if this lease's server is the free one
    lease = leases.get_lease(demo, tenant, first)[0]
    reserved_nodes = {a.node for x in leases.list_leases(demo, other) for a in x.allocations}
    if lease.allocations[0].node in reserved_nodes:
        with pytest.raises(CapacityError, match="cannot extend"):
            leases.extend_lease(demo, tenant, first, hours=2)
    else:
        assert leases.extend_lease(demo, tenant, first, hours=2).end == clock.now() + timedelta(hours=4)
    open_ended = order(demo, tenant, form="gpu", quantity=1, models=["L20"])
    with pytest.raises(ConflictError, match="open-ended"):
        leases.extend_lease(demo, tenant, open_ended, hours=1)


def test_end_early_frees_devices_and_final_states_stay_final(demo: Platform, tenant: Principal, clock: Clock) -> None:
    lid = order(demo, tenant, form="server", models=["A800"])
    order(demo, tenant, form="server", models=["A800"])
    with pytest.raises(CapacityError):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["A800"]})
    clock.advance(60)
    assert leases.end_lease(demo, tenant, lid).state is LeaseState.ENDED
    clock.advance(1)
    order(demo, tenant, form="gpu", quantity=1, models=["A800"])
    with pytest.raises(ConflictError, match="cannot become ended"):
        leases.end_lease(demo, tenant, lid)


def test_cancel_a_reservation(demo: Platform, tenant: Principal, clock: Clock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"],
                                             "start": clock.now() + timedelta(days=1), "hours": 5})
    assert orders.cancel_order(demo, tenant, res.order.id).status == "cancelled"
    lease = leases.get_lease(demo, tenant, res.order.lease_id or "")[0]
    assert lease.state is LeaseState.CANCELLED
    active = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["A800"]})
    with pytest.raises(ConflictError, match="is active; end it"):
        orders.cancel_order(demo, tenant, active.order.id)


def test_idempotency_key_replays_and_refuses_a_different_order(demo: Platform, tenant: Principal) -> None:
    a = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]}, "key-1")
    b = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]}, "key-1")
    assert b.replayed and b.order.id == a.order.id and b.order.lease_id == a.order.lease_id
    with pytest.raises(ConflictError, match="different order"):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 3, "models": ["H800"]}, "key-1")
    assert len(leases.list_leases(demo, tenant)) == 1


def test_a_retry_later_with_hours_is_the_same_order(demo: Platform, tenant: Principal, clock: Clock) -> None:
    raw = {"form": "gpu", "quantity": 1, "models": ["H800"], "hours": "2"}
    first = orders.create_order(demo, tenant, dict(raw), "retry-1")
    clock.advance(2)  # the client's retry arrives later; "2 hours" is still the same request
    again = orders.create_order(demo, tenant, dict(raw), "retry-1")
    assert again.replayed and again.order.id == first.order.id and again.order.end == first.order.end
    with pytest.raises(ConflictError, match="different order"):
        orders.create_order(demo, tenant, {**raw, "hours": "3"}, "retry-1")


def test_tenants_are_isolated(demo: Platform, tenant: Principal, operator: Principal) -> None:
    other = make_tenant(demo, operator, "beta")
    lid = order(demo, tenant, form="gpu", quantity=1)
    with pytest.raises(NotFoundError):
        leases.get_lease(demo, other, lid)
    with pytest.raises(NotFoundError):
        leases.end_lease(demo, other, lid)
    assert leases.list_leases(demo, other) == []
    assert orders.list_orders(demo, other) == []
    assert [x.id for x in leases.list_leases(demo, operator)] == [lid]


def test_supplier_sees_only_its_nodes_and_cannot_order(demo: Platform, tenant: Principal, operator: Principal) -> None:
    from suanli.service import accounts

    sup, _ = accounts.create_account(demo, operator, "west-ops", "supplier", "xibu-compute")
    nodes = fleet.list_nodes(demo, sup)
    assert nodes and {n["supplier"] for n in nodes} == {"xibu-compute"}
    with pytest.raises(PermissionDeniedError, match="needs the tenant role"):
        orders.create_order(demo, sup, {"form": "gpu"})
    mine = order(demo, tenant, form="gpu", quantity=1, models=["RTX-4090"])
    order(demo, tenant, form="gpu", quantity=1, models=["H800"])
    assert [x.id for x in leases.list_leases(demo, sup)] == [mine]


def test_down_nodes_are_not_offered(demo: Platform, tenant: Principal, operator: Principal) -> None:
    fleet.set_node_state(demo, operator, "sh-a800-01", "down", "PSU failure")
    lid = order(demo, tenant, form="server", models=["A800"])
    assert leases.get_lease(demo, tenant, lid)[0].allocations[0].node == "sh-a800-02"
    with pytest.raises(CapacityError):
        orders.create_order(demo, tenant, {"form": "server", "models": ["A800"]})

"""Defragmentation through the service layer (docs/defrag.md), on real SQLite and PostgreSQL: a plan frees a
whole A800 node for an 8-GPU order by moving migratable leases only; approval notifies; at the notice's end
the move happens at one instant (old allocations end where the new ones start); the discount is billed; only
the operator plans, approves or sets the discount."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from suanli.domain.accounts import Principal
from suanli.domain.defrag import PlanState
from suanli.domain.quotes import Basis
from suanli.errors import ConflictError, PermissionDeniedError, ValidationError
from suanli.service import defrag, leases, orders, quotes
from suanli.service.platform import Platform
from suanli.store import defrag as defrag_store
from suanli.store import leases as lease_store
from suanli.testing.clock import FakeClock

A800: dict[str, Any] = {"form": "gpu", "quantity": 1, "models": ["A800"], "hours": 10}


def fragment(p: Platform, tenant: Principal, migratable: bool = True) -> dict[str, list[str]]:
    """16 single-A800 leases (both nodes full), then 4 ended on each node: 4 free GPUs per node."""
    ids = []
    for _ in range(16):
        res = orders.create_order(p, tenant, {**A800, "migratable": migratable})
        assert res.order.status == "fulfilled", res.order.reason
        assert res.order.lease_id is not None
        ids.append(res.order.lease_id)
    by_node: dict[str, list[str]] = {}
    for lid in ids:
        lease, _ = leases.get_lease(p, tenant, lid)
        by_node.setdefault(lease.allocations[0].node, []).append(lid)
    assert sorted(len(v) for v in by_node.values()) == [8, 8]
    for lids in by_node.values():
        for lid in lids[:4]:
            leases.end_lease(p, tenant, lid)
        del lids[:4]
    return by_node


def test_plan_approve_move(demo: Platform, tenant: Principal, operator: Principal, clock: FakeClock) -> None:
    defrag.set_settings(demo, operator, {"notice_s": 600, "discount_pct": "20"})
    by_node = fragment(demo, tenant)
    lid = next(iter(by_node.values()))[0]
    lease, _ = leases.get_lease(demo, tenant, lid)
    assert lease.allocations[0].share == Decimal("0.8")  # the migratable discount, billed
    plan = defrag.propose(demo, operator, [{"form": "gpu", "quantity": 8, "models": ["A800"]}])
    assert plan is not None and plan.state is PlanState.PROPOSED
    assert len(plan.moves) == 4  # the fewest: the 4 leases of one node
    moved = {m.lease_id for m in plan.moves}
    assert moved in [set(v) for v in by_node.values()]
    assert plan.targets[0]["freed"] and len(plan.targets[0]["nodes"]) == 1
    # each move names where the lease is now in the fleet's terms: its allocation's node/slot, model, site
    before = {}
    for doc in defrag.plan_doc(demo, plan)["moves"]:
        lease, _ = leases.get_lease(demo, tenant, doc["lease_id"])
        (a,) = [x for x in lease.allocations if x.start <= clock.now() and (x.end is None or x.end > clock.now())]
        before[doc["lease_id"]] = a
        assert [(d["node"], d["device"], d["model"], d["site"]) for d in doc["from_devices"]] == [
            (a.node, a.slot, a.model, a.site)]
        assert doc["from_where"] == f"{a.node}/{a.slot} ({a.model}, {a.site})"
        (to,) = doc["to"]
        assert to["node"] != a.node and to["milli"] == 1000
        assert doc["route"] == f"{a.node}/{a.slot} ({a.model}, {a.site}) → {to['node']}/{to['device']}"
    clock.advance(seconds=10)
    plan = defrag.approve(demo, operator, plan.id)
    assert plan.state is PlanState.NOTIFIED and plan.approved_by == operator.name
    due = plan.moves[0].due_at
    assert due == clock.now() + timedelta(seconds=600)
    with demo.tx() as s:
        events = lease_store.lease_events(s, plan.moves[0].lease_id)
    assert any("defragmentation notice" in e["reason"] for e in events)
    assert defrag.tick(demo) == 0  # not due yet
    clock.advance(seconds=600)
    assert defrag.tick(demo) == 4
    plan = defrag.get_plan(demo, operator, plan.id)
    assert plan.state is PlanState.DONE and all(m.state is PlanState.DONE for m in plan.moves)
    for m in plan.moves:
        lease, _ = leases.get_lease(demo, tenant, m.lease_id)
        old = [a for a in lease.allocations if a.device_id in m.old_devices]
        new = [a for a in lease.allocations if a.end is None or a.end > clock.now()]
        assert [a.device_id for a in new] == [g[0] for g in m.new_grants]
        assert old[0].end == new[0].start == m.done_at  # no gap, no overlap
        assert old[0].node == before[m.lease_id].node and old[0].slot == before[m.lease_id].slot
    for doc in defrag.plan_doc(demo, plan)["moves"]:  # after the move: "to" is where the lease now is
        lease, _ = leases.get_lease(demo, tenant, doc["lease_id"])
        (a,) = [x for x in lease.allocations if x.start <= clock.now() and (x.end is None or x.end > clock.now())]
        assert [(d["node"], d["device"]) for d in doc["to"]] == [(a.node, a.slot)]
        assert doc["to_where"] == f"{a.node}/{a.slot}" and doc["route"].endswith(f"→ {a.node}/{a.slot}")
    # the freed node now holds the 8-GPU order
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 1})
    assert res.order.status == "fulfilled"


def test_the_database_refuses_a_second_open_move_of_a_lease(demo: Platform, tenant: Principal,
                                                             operator: Principal, clock: FakeClock) -> None:
    fragment(demo, tenant)
    plan = defrag.propose(demo, operator, [{"form": "gpu", "quantity": 8, "models": ["A800"]}])
    assert plan is not None
    m = plan.moves[0]
    with pytest.raises(IntegrityError), demo.tx() as s:
        defrag_store.insert_plan(s, plan_id="dfg_twice", auto=False, targets=[], summary="", notice_s=0, by="op",
                                 at=clock.now(), moves=[(m.lease_id, list(m.old_devices), list(m.new_grants), "")])


def test_auto_plans_for_a_queued_order_and_approves(demo: Platform, tenant: Principal, operator: Principal,
                                                     clock: FakeClock) -> None:
    fragment(demo, tenant)
    queued = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["A800"], "hours": 1,
                                                "wait_until": clock.now() + timedelta(hours=6)})
    assert queued.order.status == "queued"
    assert defrag.tick(demo) == 0 and defrag.list_plans(demo, operator) == []  # auto is off
    defrag.set_settings(demo, operator, {"auto": True, "notice_s": 60})
    defrag.tick(demo)
    (plan,) = defrag.list_plans(demo, operator)
    assert plan.auto and plan.approved_by == defrag.AUTO_ACTOR and plan.state is PlanState.NOTIFIED
    assert plan.targets[0]["target"] == f"queued order {queued.order.id}" and len(plan.moves) == 4
    clock.advance(seconds=60)
    assert defrag.tick(demo) == 4


def test_never_moves_a_lease_that_is_not_migratable(demo: Platform, tenant: Principal, operator: Principal) -> None:
    fragment(demo, tenant, migratable=False)
    assert defrag.propose(demo, operator, [{"form": "gpu", "quantity": 8, "models": ["A800"]}]) is None


def test_cancel_and_states(demo: Platform, tenant: Principal, operator: Principal) -> None:
    fragment(demo, tenant)
    plan = defrag.propose(demo, operator, [{"form": "gpu", "quantity": 8, "models": ["A800"]}])
    assert plan is not None
    plan = defrag.cancel(demo, operator, plan.id)
    assert plan.state is PlanState.CANCELLED
    with pytest.raises(ConflictError, match="cannot become approved"):
        defrag.approve(demo, operator, plan.id)
    again = defrag.propose(demo, operator, [{"form": "gpu", "quantity": 8, "models": ["A800"]}])
    assert again is not None  # the cancelled moves no longer hold the leases


def test_only_the_operator(demo: Platform, tenant: Principal, operator: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        defrag.set_settings(demo, tenant, {"discount_pct": "50"})
    with pytest.raises(PermissionDeniedError):
        defrag.propose(demo, tenant, [{"form": "gpu", "quantity": 8}])
    with pytest.raises(PermissionDeniedError):
        defrag.list_plans(demo, tenant)


@pytest.mark.parametrize("raw, field", [
    ({"notice_s": -1}, "notice_s"), ({"notice_s": 86401}, "notice_s"), ({"discount_pct": "91"}, "discount_pct"),
    ({"discount_pct": "abc"}, "discount_pct"), ({"auto": "yes"}, "auto"), ({"price": 1}, None),
])
def test_bad_settings_are_422_and_write_nothing(demo: Platform, operator: Principal, raw: dict[str, Any],
                                                field: str | None) -> None:
    before = defrag.get_settings(demo, operator)
    with pytest.raises(ValidationError) as e:
        defrag.set_settings(demo, operator, raw)
    assert field is None or e.value.details.get("field") == field
    assert defrag.get_settings(demo, operator) == before


def test_the_quote_says_migratable_and_prices_the_discount(demo: Platform, tenant: Principal,
                                                            operator: Principal) -> None:
    defrag.set_settings(demo, operator, {"discount_pct": "25"})
    plain = quotes.quote_order(demo, tenant, {**A800})
    mig = quotes.quote_order(demo, tenant, {**A800, "migratable": True})
    assert mig.hourly == plain.hourly * Decimal("0.75")
    assert {ln.basis for ln in mig.lines} == {Basis.MIGRATABLE} and "25 % lower" in mig.note


def test_migratable_is_for_gpu_and_slice(demo: Platform, tenant: Principal) -> None:
    with pytest.raises(ValidationError, match="migratable is offered for the forms gpu, slice"):
        orders.create_order(demo, tenant, {"form": "server", "models": ["A800"], "migratable": True})


def test_a_fraction_says_its_share_and_a_new_model_or_site_is_named() -> None:
    spots = {1: defrag_store.DeviceSpot("nx-a100-01", 7, "A100-80GB", "nx-west-1"),
             2: defrag_store.DeviceSpot("nx-a100-02", 1, "A100-80GB", "nx-west-1"),
             3: defrag_store.DeviceSpot("nx-h100-01", 0, "H100", "nx-east-1")}
    move = defrag_store.MoveRecord(1, "dfg_x", "lse_x", PlanState.PROPOSED, (1,), ((2, 500, 0),), "", None, None, "")
    doc = defrag._move_doc(move, spots)
    assert doc["route"] == "nx-a100-01/7 (0.5, A100-80GB, nx-west-1) → nx-a100-02/1 (0.5)"
    assert [d["milli"] for d in doc["from_devices"]] == [500]
    elsewhere = dataclasses.replace(move, new_grants=((3, 1000, 0),), old_devices=(1,))
    assert defrag._move_doc(elsewhere, spots)["to_where"] == "nx-h100-01/0 (H100, nx-east-1)"
    gone = dataclasses.replace(move, old_devices=(99,))
    assert defrag._move_doc(gone, spots)["from_where"] == "device #99 (0.5)"


def test_a_destination_taken_meanwhile_is_named_in_the_reason(demo: Platform, tenant: Principal,
                                                              operator: Principal, clock: FakeClock) -> None:
    fragment(demo, tenant)
    plan = defrag.propose(demo, operator, [{"form": "gpu", "quantity": 8, "models": ["A800"]}])
    assert plan is not None
    plan = defrag.approve(demo, operator, plan.id)
    for _ in range(8):  # the fleet fills up before the notice is over: every destination is taken
        assert orders.create_order(demo, tenant, {**A800}).order.status == "fulfilled"
    clock.advance(seconds=plan.notice_s)
    assert defrag.tick(demo) == 0
    doc = defrag.plan_doc(demo, defrag.get_plan(demo, operator, plan.id))
    for m in doc["moves"]:
        to = m["to"][0]
        assert m["state"] == "failed" and m["reason"] == (
            f"{to['node']}/{to['device']} is no longer free; the lease stays where it is")

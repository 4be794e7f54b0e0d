"""Every line has its supplier (SQLite and PostgreSQL): usage that names a node (or a lease) is
attributed, when ingested, to the supplier that owned the node at that instant; a transfer of a
node is an operator action effective now or later, never earlier, and splits the node's revenue
at its instant (events and lease time alike); lines without a node are the operator's own, shown
apart in the revenue report and on no supplier's statement."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.domain.accounts import Principal
from suanli.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from suanli.service import accounts, billing, fleet, leases, orders, plans, reconcile, statements, usage
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
EAST, WEST = "huadong-idc", "xibu-compute"


def ev(i: int | str, t: datetime, meter: str = "device_seconds", subject: str = "acme", **data: Any) -> dict[str, Any]:
    return {"id": f"ev-{i}", "source": "agent/test", "type": meter, "subject": subject, "time": t.isoformat(),
            "data": {"quantity": "3600", **data}}


def token_plan(p: Platform, op: Principal, at: datetime) -> None:
    plans.create_plan(p, op, {"tenant": "*", "kind": "payg", "effective_from": at.isoformat(),
                              "rates": [{"meter": "inference_input_tokens", "price": "2"}]})


def lines_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in doc["lines"] if Decimal(x["amount"]) != 0 or x["node"]]


def test_an_event_naming_a_node_and_no_supplier_pays_the_nodes_supplier(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    t = clock.now() - timedelta(hours=2)
    usage.ingest(demo, operator, [ev(1, t, model="H800", site="sh-east-1", node="sh-h800-01")])
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (line,) = doc["lines"]
    assert line["node"] == "sh-h800-01" and line["supplier"] == EAST
    assert Decimal(line["supplier_share"]) > 0 and Decimal(line["supplier_share"]) + Decimal(line["commission"]) \
        == Decimal(line["amount"])
    st_ = statements.supplier_statement(demo, operator, EAST, "2026-11")
    assert st_["gross"] == Decimal(line["amount"]) and st_["supplier_share"] == Decimal(line["supplier_share"])


def test_a_supplier_contradicting_the_node_owner_is_a_422_and_nothing_is_stored(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    t = clock.now() - timedelta(hours=1)
    good = ev(1, t, model="H800", node="sh-h800-01")
    bad = ev(2, t, model="H800", node="sh-h800-01", supplier=WEST)
    with pytest.raises(ValidationError) as e:
        usage.ingest(demo, operator, [good, bad])
    assert "event 1: data.supplier 'xibu-compute' contradicts the owner of node sh-h800-01" in e.value.message
    assert "'huadong-idc'" in e.value.message
    with pytest.raises(ValidationError, match="unknown node 'nope'"):
        usage.ingest(demo, operator, [ev(3, t, model="H800", node="nope")])
    with pytest.raises(ValidationError, match="without a node"):
        usage.ingest(demo, operator, [ev(4, t, model="H800", supplier=EAST)])
    assert usage.usage_summary(demo, operator) == []
    # naming the owner is accepted
    assert usage.ingest(demo, operator, [ev(5, t, model="H800", node="sh-h800-01", supplier=EAST)]).accepted == 1


def test_an_event_naming_a_lease_is_attributed_to_the_lease_node_then(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    token_plan(demo, operator, clock.now())
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["RTX-4090"]})
    lease = res.order.lease_id or ""
    clock.advance(hours=1)
    usage.ingest(demo, operator, [ev(1, clock.now() - timedelta(minutes=1), "inference_input_tokens",
                                     quantity="1000000", lease=lease)])
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    tokens = [x for x in doc["lines"] if x["meter"] == "inference_input_tokens"]
    assert len(tokens) == 1 and tokens[0]["node"].startswith("sz-4090") and tokens[0]["supplier"] == WEST
    assert Decimal(tokens[0]["amount"]) == Decimal("2.00")


def test_transfer_rules_operator_only_never_back_dated(demo: Platform, operator: Principal, tenant: Principal,
                                                       clock: FakeClock) -> None:
    now = clock.now()
    sup = accounts.authenticate(demo, accounts.create_account(demo, operator, "east", "supplier", EAST)[1])
    with pytest.raises(PermissionDeniedError):
        fleet.transfer_node(demo, sup, "sh-h800-01", WEST, reason="mine now")
    with pytest.raises(PermissionDeniedError):
        fleet.transfer_node(demo, tenant, "sh-h800-01", WEST, reason="mine now")
    with pytest.raises(ValidationError, match="in the past"):
        fleet.transfer_node(demo, operator, "sh-h800-01", WEST, now - timedelta(seconds=1), reason="sold")
    with pytest.raises(ValidationError, match="needs a reason"):
        fleet.transfer_node(demo, operator, "sh-h800-01", WEST, reason=" ")
    with pytest.raises(ValidationError, match="unknown supplier"):
        fleet.transfer_node(demo, operator, "sh-h800-01", "nobody", reason="sold")
    with pytest.raises(ValidationError, match="already belongs"):
        fleet.transfer_node(demo, operator, "sh-h800-01", EAST, reason="sold")
    with pytest.raises(NotFoundError):
        fleet.transfer_node(demo, operator, "nope", WEST, reason="sold")
    # usage already recorded on the node up to 3 minutes ahead: the transfer must come after it
    usage.ingest(demo, operator, [ev(1, now + timedelta(minutes=3), model="H800", node="sh-h800-01")])
    with pytest.raises(ConflictError, match="recorded up to"):
        fleet.transfer_node(demo, operator, "sh-h800-01", WEST, now + timedelta(minutes=1), reason="sold")
    later = now + timedelta(days=2, seconds=11)
    doc = fleet.transfer_node(demo, operator, "sh-h800-01", WEST, later, reason="sold to the west")
    assert doc["supplier"] == EAST and [(x["supplier"], x["end"]) for x in doc["history"]] == [
        (EAST, later), (WEST, None)]
    with pytest.raises(ConflictError, match="changes owner at"):
        fleet.transfer_node(demo, operator, "sh-h800-01", EAST, later - timedelta(hours=1), reason="back")
    # nothing of a refused transfer was written
    assert len(fleet.node_ownership(demo, operator, "sh-h800-01")["history"]) == 2
    # the supplier sees the history of a node it owns; the owner now follows the clock, no write needed
    assert fleet.node_ownership(demo, sup, "sh-h800-01")["supplier"] == EAST
    assert "sh-h800-01" in {n["name"] for n in fleet.list_nodes(demo, sup)}
    clock.set(later)
    assert "sh-h800-01" not in {n["name"] for n in fleet.list_nodes(demo, sup)}
    with pytest.raises(NotFoundError):
        fleet.set_node_state(demo, sup, "sh-h800-01", "maintenance")
    assert {n["name"]: n["supplier"] for n in fleet.list_nodes(demo, operator)}["sh-h800-01"] == WEST
    # the background pass moves the column; a fleet file naming the old owner is refused
    assert reconcile.run_pass(demo)["node_owner_changes"] == 1
    exported = fleet.export_fleet(demo, operator)
    assert {n["name"]: n["supplier"] for n in exported["nodes"]}["sh-h800-01"] == WEST
    fleet.import_fleet(demo, operator, {"nodes": exported["nodes"]})  # re-import what was exported: fine
    stale = [dict(n, supplier=EAST) for n in exported["nodes"] if n["name"] == "sh-h800-01"]
    with pytest.raises(ValidationError, match="suanli node transfer sh-h800-01"):
        fleet.import_fleet(demo, operator, {"nodes": stale})


def test_a_transfer_mid_month_splits_events_and_lease_time_at_its_instant(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["RTX-4090"]})
    lease, _events = leases.get_lease(demo, tenant, res.order.lease_id or "")
    node = lease.allocations[0].node
    cut = clock.now() + timedelta(hours=1, minutes=20, seconds=7)
    fleet.transfer_node(demo, operator, node, EAST, cut, reason="sold mid-month")
    clock.advance(hours=3)
    usage.ingest(demo, operator, [ev("a", cut - timedelta(seconds=1), model="RTX-4090", node=node),
                                  ev("b", cut, model="RTX-4090", node=node)])
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    hours: dict[str, Decimal] = {}
    for x in doc["lines"]:
        assert x["node"] == node and x["supplier"], x
        hours[x["supplier"]] = hours.get(x["supplier"], Decimal(0)) + Decimal(x["quantity"])
    # the lease's time up to the cut (and event a) is the west's; from the cut on (and event b) the east's
    west = Decimal(int((cut - lease.start).total_seconds())) / 3600 + 1
    east = Decimal(int((DEC1 - cut).total_seconds())) / 3600 + 1
    assert abs(hours[WEST] - west) < Decimal("1e-9") and abs(hours[EAST] - east) < Decimal("1e-9")  # 12 places kept
    total = sum((Decimal(x["amount"]) for x in doc["lines"]), Decimal(0))
    sts = [statements.supplier_statement(demo, operator, s, "2026-11") for s in (EAST, WEST)]
    assert all(s["gross"] > 0 for s in sts)
    assert sum((n["supplier_share"] + n["commission"] for s in sts for n in s["nodes"]), Decimal(0)) == total


NODES = {"sh-h800-01": "H800", "sz-l20-01": "L20", "sz-4090-01": "RTX-4090", "nx-a100-01": "A100-80GB"}
MONTH_S = 28 * 86400
offsets = st.integers(1, MONTH_S - 1)


def add_months(t: datetime, k: int) -> datetime:
    m = t.month - 1 + k
    return t.replace(year=t.year + m // 12, month=m % 12 + 1)


@pytest.fixture
def months(demo: Platform, operator: Principal, clock: FakeClock) -> itertools.count[int]:
    token_plan(demo, operator, clock.now())
    return itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transfers=st.lists(st.tuples(st.sampled_from(sorted(NODES)), offsets, st.sampled_from([EAST, WEST])),
                          max_size=5),
       events=st.lists(st.tuples(st.sampled_from(sorted(NODES)), offsets,
                                 st.sampled_from(["device_seconds", "device_seconds", "inference_input_tokens"]),
                                 st.integers(0, 10_000_000)), min_size=1, max_size=40))
def test_per_node_shares_and_commission_add_up_to_the_invoices_across_transfers(
        demo: Platform, operator: Principal, clock: FakeClock, months: itertools.count[int],
        transfers: list[tuple[str, int, str]], events: list[tuple[str, int, str, int]]) -> None:
    """A fresh tenant and month per example (time only moves forward: transfers are never back-dated)."""
    n = next(months)
    start = add_months(DEC1, 2 * n)  # the month after each example is left for its invoice
    period = f"{start.year:04d}-{start.month:02d}"
    clock.set(start)
    make_tenant(demo, operator, f"t{n}")
    for node, off, sup in sorted(transfers, key=lambda x: x[1]):
        last = fleet.node_ownership(demo, operator, node)["history"][-1]
        at = start + timedelta(seconds=off)
        if last["supplier"] != sup and at > last["start"]:
            fleet.transfer_node(demo, operator, node, sup, at, reason="property test")
    clock.set(add_months(start, 1) + timedelta(hours=1))
    batch = [ev(f"{n}-{i}", start + timedelta(seconds=off), meter, subject=f"t{n}", quantity=str(q), node=node,
                **({"model": NODES[node]} if meter == "device_seconds" else {}))
             for i, (node, off, meter, q) in enumerate(events)]
    usage.ingest(demo, operator, batch)
    doc = billing.issue_invoice(demo, operator, f"t{n}", period)
    history = {node: fleet.node_ownership(demo, operator, node)["history"] for node in NODES}

    def owner(node: str, t: datetime) -> str:
        return next(x["supplier"] for x in history[node] if x["start"] <= t and (x["end"] is None or t < x["end"]))

    for x in doc["lines"]:
        assert x["node"] and x["supplier"] == owner(x["node"], x["start"]) == owner(x["node"], x["end"]), x
        assert Decimal(x["supplier_share"]) + Decimal(x["commission"]) == Decimal(x["amount"])
    invoiced = sum((Decimal(x["amount"]) for x in doc["lines"]), Decimal(0))
    sts = [statements.supplier_statement(demo, operator, s, period) for s in (EAST, WEST)]
    assert sum((n_["supplier_share"] + n_["commission"] for s in sts for n_ in s["nodes"]), Decimal(0)) == invoiced
    report = statements.revenue_report(demo, operator, period)
    assert report["operator_own"] == 0 and report["supplier_gross"] == report["charges"] == invoiced

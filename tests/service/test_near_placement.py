"""Placement near a place (issue 14 item 3): ``max_rtt_ms`` keeps only the sites whose measured
round-trip time (median of their approved agents heard from within ``agent_down_s``) is at most the
bound; nothing left is a 422 naming the measured sites. Real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.domain.leases import parse_order
from suanli.errors import ValidationError
from suanli.service import accounts, leases, orders
from suanli.service.placement import snapshot
from suanli.service.platform import Platform
from suanli.store.agent_tables import AgentNodeRow
from suanli.store.tables import LeaseRow, OrderRow
from suanli.testing.clock import FakeClock


def agent(p: Platform, node: str, rtt: str | None, *, state: str = "approved", seen_ago_s: float = 1) -> None:
    now = p.clock.now()
    with p.tx() as s:
        s.merge(AgentNodeRow(node=node, state=state, credential_hash=None, updated_at=now,
                             last_seen_at=now - timedelta(seconds=seen_ago_s),
                             rtt_ms=None if rtt is None else Decimal(rtt)))


def counts(p: Platform) -> tuple[int, int]:
    with p.tx() as s:
        return (s.scalar(select(func.count()).select_from(OrderRow)) or 0,
                s.scalar(select(func.count()).select_from(LeaseRow)) or 0)


def test_the_site_rtt_is_the_median_of_its_approved_agents_heard_within_the_grace(demo: Platform) -> None:
    agent(demo, "sz-l20-01", "2")
    agent(demo, "sz-l20-02", "9.5")
    agent(demo, "sz-4090-01", "40")
    agent(demo, "sz-4090-02", "1", state="pending")  # not approved: not counted
    agent(demo, "sz-4090-03", "1", seen_ago_s=31)  # not heard from within agent_down_s (30 s)
    agent(demo, "sh-h800-01", "30")
    agent(demo, "sh-h800-02", "31")
    agent(demo, "nx-910b-01", None)  # no measurement yet
    now = demo.clock.now()
    with demo.tx() as s:
        rtt = snapshot(demo, s, now, None).site_rtt
    assert {k: (v.rtt_ms, v.agents) for k, v in rtt.items()} == {
        "sz-edge-1": (Decimal("9.5"), 3), "sh-east-1": (Decimal("30.5"), 2)}


def test_max_rtt_places_only_on_near_sites(demo: Platform, tenant: Principal) -> None:
    agent(demo, "sz-l20-01", "4")
    agent(demo, "sh-h800-01", "30")
    agent(demo, "nx-910b-01", "45")
    for _ in range(3):
        res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "max_rtt_ms": "20"})
        assert res.order.status == "fulfilled", res.order.reason
        assert res.order.lease_id is not None
        lease, _ = leases.get_lease(demo, tenant, res.order.lease_id)
        assert {a.site for a in lease.allocations} == {"sz-edge-1"}
    wide = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "max_rtt_ms": 40,
                                              "models": ["H800"]})
    assert wide.order.lease_id is not None
    assert {a.site for a in leases.get_lease(demo, tenant, wide.order.lease_id)[0].allocations} == {"sh-east-1"}


def test_nothing_near_enough_is_422_naming_the_measured_sites_and_writes_nothing(demo: Platform,
                                                                               tenant: Principal) -> None:
    agent(demo, "sz-l20-01", "6")
    agent(demo, "sh-h800-01", "30")
    before = counts(demo)
    with pytest.raises(ValidationError) as e:
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "max_rtt_ms": "5"})
    msg = e.value.message
    assert "at most 5 ms" in msg and "sz-edge-1 6 ms" in msg and "sh-east-1 30 ms" in msg, msg
    assert e.value.details["field"] == "max_rtt_ms"
    assert e.value.details["measured"] == {"sz-edge-1": "6", "sh-east-1": "30"}
    # near enough, but not in the region asked for
    with pytest.raises(ValidationError, match="among the order's sites/regions"):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "max_rtt_ms": "10", "regions": ["cn-east"]})
    assert counts(demo) == before


def test_a_site_whose_agents_fell_silent_is_no_longer_near(demo: Platform, tenant: Principal,
                                                            clock: FakeClock) -> None:
    agent(demo, "sz-l20-01", "3")
    assert orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "max_rtt_ms": "10"}).order.lease_id
    clock.advance(31)
    with pytest.raises(ValidationError, match="no site has a measured round-trip time"):
        orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "max_rtt_ms": "10"})


@pytest.mark.parametrize("bad", [0, -1, "10000.5", "abc", True, [5], "NaN"])
def test_max_rtt_out_of_range_names_the_field_and_the_range(bad: object) -> None:
    from datetime import UTC, datetime
    with pytest.raises(ValidationError) as e:
        parse_order({"form": "gpu", "max_rtt_ms": bad}, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert e.value.details["field"] == "max_rtt_ms" and "<= 10000" in e.value.message


def test_the_order_route_takes_max_rtt_ms(demo: Platform, operator: Principal) -> None:
    agent(demo, "sz-l20-01", "4.25")
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers={"Authorization": f"Bearer {token}"})
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        ok = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "max_rtt_ms": "5"}, headers=h)
        assert ok.status_code == 201, ok.text
        far = c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "max_rtt_ms": 4}, headers=h)
        assert far.status_code == 422, far.text
        assert "sz-edge-1 4.25 ms" in far.json()["error"]["message"]
        for bad in (0, 10001, "x", -3):
            r = c.post("/v1/orders", json={"form": "gpu", "max_rtt_ms": bad}, headers=h)
            assert r.status_code == 422 and "max_rtt_ms" in r.text, r.text
        offers = c.get("/v1/offers", headers=h).json()
        by_site = {o["site"]: o["rtt_ms"] for o in offers}
        assert by_site["sz-edge-1"] == "4.25" and by_site["sh-east-1"] is None


def test_a_lease_re_placed_after_a_failure_stays_near(demo: Platform, operator: Principal, tenant: Principal) -> None:
    from suanli.service import fleet, health
    agent(demo, "sz-4090-03", "3")  # measures sz-edge-1 at 3 ms; the far sites have room but no measurement
    fleet.set_node_state(demo, operator, "sz-4090-03", "maintenance", "held out of this test")
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "max_rtt_ms": "10"})
    assert res.order.lease_id is not None, res.order.reason
    lease_id = res.order.lease_id
    (node,) = {a.node for a in leases.get_lease(demo, tenant, lease_id)[0].allocations}
    others = [n for n in ("sz-l20-01", "sz-l20-02", "sz-4090-01", "sz-4090-02") if n != node]
    for n in others:
        fleet.set_node_state(demo, operator, n, "maintenance", "held out of this test")
    fleet.set_node_state(demo, operator, node, "down", "PSU failed")
    report = health.check_health(demo)
    assert report.interrupted == [lease_id] and report.replaced == []  # far sites are free, but not near
    assert leases.get_lease(demo, tenant, lease_id)[0].state.value == "interrupted"
    fleet.set_node_state(demo, operator, others[0], "available", "")
    assert health.check_health(demo).replaced == [lease_id]
    lease = leases.get_lease(demo, tenant, lease_id)[0]
    assert {a.node for a in lease.allocations if a.end is None} == {others[0]}

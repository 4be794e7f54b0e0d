"""Ending a lease: the answer is the lease as every later read shows it, in few statements."""

from __future__ import annotations

from suanli.domain.accounts import Principal
from suanli.domain.leases import LeaseState
from suanli.service import leases, orders
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock
from suanli.testing.statements import statements


def _order(p: Platform, who: Principal, **raw: object) -> str:
    res = orders.create_order(p, who, raw)
    assert res.order.lease_id is not None, res.order.reason
    return res.order.lease_id


def test_the_end_answers_the_lease_as_reads_show_it(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    ids = [_order(demo, tenant, form="slice", share_pct=10, memory_mib=1024),
           _order(demo, tenant, form="gpu", quantity=2, hours=3)]
    clock.advance(90)
    for lease_id in ids:
        ended = leases.end_lease(demo, tenant, lease_id, "done")
        assert ended.state is LeaseState.ENDED and ended.ended_at == clock.now() and ended.reason == "done"
        assert ended.allocations and all(a.end == clock.now() for a in ended.allocations)
        assert ended == leases.get_lease(demo, tenant, lease_id)[0]


def test_the_end_of_a_lease_in_the_instant_it_started_keeps_zero_length_records(
        demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    lease_id = _order(demo, tenant, form="gpu", quantity=1)
    ended = leases.end_lease(demo, tenant, lease_id)
    assert all(a.end == a.start for a in ended.allocations)
    assert ended == leases.get_lease(demo, tenant, lease_id)[0]


def test_the_end_takes_few_statements(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    lease_id = _order(demo, tenant, form="slice", share_pct=10, memory_mib=1024)
    clock.advance(60)
    with statements(demo.engine) as seen:
        leases.end_lease(demo, tenant, lease_id)
    assert len(seen) <= 8, "\n".join(seen)

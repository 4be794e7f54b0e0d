"""Reads derive what time did to a lease (no tick runs): lists filter on the state a lease has now,
page by page; billing rates a term up to its end and a reservation from its start; writes that act
on a lease store its due moves first. SQLite and PostgreSQL (the ``demo`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.errors import ConflictError
from suanli.service import audit_context, billing, leases, orders
from suanli.service.platform import Platform
from suanli.store import leases as lease_store
from suanli.testing.clock import FakeClock

NOV30 = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def _order(p: Platform, who: Principal, **raw: object) -> str:
    res = orders.create_order(p, who, {"form": "gpu", "quantity": 1, "models": ["H800"], **raw})
    assert res.order.lease_id, res.order
    return res.order.lease_id


def _stored_state(p: Platform, lease_id: str) -> str:
    with p.tx() as s:
        return lease_store.get_lease(s, lease_id).state.value


def test_a_term_ended_at_10_and_a_reservation_started_at_6_are_billed_exactly_without_a_tick(
        demo: Platform, tenant: Principal, operator: Principal, clock: FakeClock) -> None:
    clock.set(NOV30)
    term = _order(demo, tenant, hours=5)  # 05:00 -> 10:00
    reservation = _order(demo, tenant, start=datetime(2026, 11, 30, 6, 0, tzinfo=UTC), hours=2)  # 06:00 -> 08:00
    clock.set(datetime(2026, 12, 1, 11, 0, tzinfo=UTC))  # the month is over; no background pass ran
    assert (_stored_state(demo, term), _stored_state(demo, reservation)) == ("active", "scheduled")

    draft = billing.preview(demo, operator, "2026-11", tenant.name)
    hours = {x.lease: x.quantity for x in draft.rated.lines if x.meter == "device_seconds"}
    assert hours == {term: Decimal(5), reservation: Decimal(2)}  # device-hours: to the end, from the start
    issued = billing.issue_invoice(demo, operator, tenant.name, "2026-11")
    assert Decimal(str(issued["total"])) == draft.settlement.total
    # the reads wrote nothing; the invoice (a write) did not need to move the leases either
    assert (_stored_state(demo, term), _stored_state(demo, reservation)) == ("active", "scheduled")


def test_a_state_filter_pages_on_the_state_a_lease_has_now(demo: Platform, tenant: Principal,
                                                            clock: FakeClock) -> None:
    clock.set(NOV30)
    short = [_order(demo, tenant, hours=1) for _ in range(3)]  # over at 06:00
    long = [_order(demo, tenant, hours=8) for _ in range(2)]  # over at 13:00
    later = _order(demo, tenant, start=datetime(2026, 11, 30, 7, 0, tzinfo=UTC), hours=1)  # 07:00 -> 08:00
    clock.set(datetime(2026, 11, 30, 7, 30, tzinfo=UTC))

    def ids(state: str, offset: int = 0, limit: int = 50) -> list[str]:
        return [x.id for x in leases.list_leases(demo, tenant, state=state, offset=offset, limit=limit)]

    assert set(ids("active")) == {*long, later}
    assert set(ids("ended")) == set(short)
    assert ids("scheduled") == []
    pages = ids("active", 0, 2) + ids("active", 2, 2)  # pages of the filtered list, not filtered pages
    assert sorted(pages) == sorted([*long, later])
    shown = {x.id: x for x in leases.list_leases(demo, tenant)}
    assert {shown[x].ended_at for x in short} == {NOV30 + timedelta(hours=1)}
    assert shown[later].activated_at == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert all(_stored_state(demo, x) == "active" for x in short)  # nothing was written


def test_a_write_stores_the_due_moves_of_its_lease_first(demo: Platform, tenant: Principal,
                                                         clock: FakeClock) -> None:
    clock.set(NOV30)
    over = _order(demo, tenant, hours=1)
    started = _order(demo, tenant, start=datetime(2026, 11, 30, 6, 0, tzinfo=UTC), hours=4)
    clock.set(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    with pytest.raises(ConflictError, match="is ended"):  # its term is over: it cannot be ended again
        leases.end_lease(demo, tenant, over)
    with audit_context.acting(tenant):  # a reservation whose start came is active: it can end
        ended = leases.end_lease(demo, tenant, started)
    assert (ended.state.value, ended.activated_at, ended.ended_at) == (
        "ended", datetime(2026, 11, 30, 6, 0, tzinfo=UTC), datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    _lease, events = leases.get_lease(demo, tenant, started)
    assert [(e["from"], e["to"], e["actor"]) for e in events][-2:] == [
        ("scheduled", "active", "system"), ("active", "ended", "acme")]
    with pytest.raises(ConflictError, match="is ended"):
        leases.extend_lease(demo, tenant, over, hours=1)
    assert _stored_state(demo, over) == "active"  # a refused write leaves nothing, its lease's moves included
    assert _stored_state(demo, started) == "ended"


def test_a_reservation_whose_start_came_cannot_be_cancelled_before_a_tick(demo: Platform, tenant: Principal,
                                                                          clock: FakeClock) -> None:
    clock.set(NOV30)
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"],
                                             "start": datetime(2026, 11, 30, 6, 0, tzinfo=UTC), "hours": 4})
    clock.set(datetime(2026, 11, 30, 6, 30, tzinfo=UTC))  # it started at 06:00; no background pass ran
    with pytest.raises(ConflictError, match="is active; end it"):
        orders.cancel_order(demo, tenant, res.order.id)
    assert _stored_state(demo, res.order.lease_id or "") == "scheduled"  # the refusal left nothing

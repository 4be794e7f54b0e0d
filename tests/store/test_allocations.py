"""The database itself refuses allocations of one device beyond its capacity (SQLite and PostgreSQL).

Rows are written directly (as a buggy or hostile writer would), never through placement: the
rule must hold without the placement code. Rule: :mod:`suanli.domain.capacity`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from suanli.domain.capacity import max_load
from suanli.domain.leases import LeaseState, ProductForm
from suanli.service.platform import Platform
from suanli.store import capacity
from suanli.store import leases as store
from suanli.store.leases import StaleClaim
from suanli.store.tables import AllocationRow, DeviceRow

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def leases(demo: Platform, tenant) -> Iterator[tuple[Platform, list[str], list[int]]]:  # type: ignore[no-untyped-def]
    """Four bare leases of the tenant, and two device ids (written directly: no placement)."""
    ids = []
    with demo.tx() as s:
        for i in range(4):
            oid, lid = f"ord_t{i}", f"ls_t{i}"
            store.insert_order(s, order_id=oid, tenant_id=tenant.account_id, key=f"k{i}", form=ProductForm.GPU,
                               spec={}, start=T0, end=None, status="fulfilled", reason="", now=T0)
            store.insert_lease(s, lease_id=lid, order_id=oid, tenant_id=tenant.account_id, form=ProductForm.GPU,
                               state=LeaseState.ACTIVE, start=T0, end=None, activated_at=T0, reason="",
                               commission_rate=Decimal(0), placement="", now=T0)
            ids.append(lid)
        devices = list(s.scalars(select(DeviceRow.id).order_by(DeviceRow.id).limit(2)))
    yield demo, ids, devices


def put(s: Session, lease: str, device: int, milli: int, start: datetime, end: datetime | None,
        drawn_from: str | None = None) -> AllocationRow:
    row = AllocationRow(lease_id=lease, device_id=device, milli=milli, memory_mib=0, start_at=start, end_at=end,
                        drawn_from=drawn_from)
    s.add(row)
    s.flush()
    return row


def refused(p: Platform, fn) -> bool:  # type: ignore[no-untyped-def]
    """Does the database refuse what ``fn(session)`` writes? (nothing of it stays either way on refusal)"""
    try:
        with p.tx() as s:
            fn(s)
    except IntegrityError as e:
        assert "capacity" in str(e.orig) or "ex_allocations_whole_device" in str(e.orig), e
        return True
    return False


def test_two_whole_device_allocations_cannot_overlap(leases) -> None:  # type: ignore[no-untyped-def]
    p, ls, (dev, other) = leases
    with p.tx() as s:
        put(s, ls[0], dev, 1000, at(0), at(60))
    assert refused(p, lambda s: put(s, ls[1], dev, 1000, at(59), at(120)))
    assert refused(p, lambda s: put(s, ls[1], dev, 1000, at(-10), None))
    assert refused(p, lambda s: put(s, ls[1], dev, 1, at(30), at(31)))
    assert not refused(p, lambda s: put(s, ls[1], dev, 1000, at(60), at(120)))  # [0,60) then [60,120): adjacent
    assert not refused(p, lambda s: put(s, ls[2], other, 1000, at(0), None))  # another device
    with p.tx() as s:
        assert len(s.scalars(select(AllocationRow).where(AllocationRow.device_id == dev)).all()) == 2


def test_fractions_sum_to_at_most_one_device(leases) -> None:  # type: ignore[no-untyped-def]
    p, ls, (dev, _other) = leases
    with p.tx() as s:
        put(s, ls[0], dev, 600, at(0), at(60))
        put(s, ls[1], dev, 400, at(10), None)
    assert refused(p, lambda s: put(s, ls[2], dev, 1, at(20), at(21)))
    assert refused(p, lambda s: put(s, ls[2], dev, 100, at(-5), at(15)))  # overload starts inside its window
    assert not refused(p, lambda s: put(s, ls[2], dev, 600, at(60), None))  # 400 + 600 from minute 60


def test_an_update_into_overload_is_refused_and_maps_to_a_stale_claim(leases) -> None:  # type: ignore[no-untyped-def]
    p, ls, (dev, _other) = leases
    with p.tx() as s:
        put(s, ls[0], dev, 1000, at(0), at(60))
        put(s, ls[1], dev, 1000, at(60), at(120))
    assert refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.lease_id == ls[0])
                                          .values(end_at=at(61))))
    assert refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.lease_id == ls[0])
                                          .values(milli=1, start_at=at(90), end_at=at(130))))
    with pytest.raises(StaleClaim), p.tx() as s:
        store.move_allocation_end(s, ls[0], at(60), at(90))
    with pytest.raises(StaleClaim), p.tx() as s:
        store.insert_allocations(s, ls[2], [(dev, 500, 0)], at(30), at(31))


def test_drawn_and_zero_length_rows_do_not_count(leases) -> None:  # type: ignore[no-untyped-def]
    p, ls, (dev, _other) = leases
    with p.tx() as s:
        put(s, ls[0], dev, 1000, at(0), None)  # a reservation holds the device
        put(s, ls[1], dev, 1000, at(10), at(20), drawn_from=ls[0])  # an order drawing on it
        put(s, ls[2], dev, 1000, at(30), at(30))  # granted and given up in the same instant
    assert refused(p, lambda s: put(s, ls[3], dev, 1000, at(40), at(50)))


def test_a_lease_ended_in_the_second_it_started_keeps_its_record(leases) -> None:  # type: ignore[no-untyped-def]
    p, ls, (dev, other) = leases
    with p.tx() as s:
        store.insert_allocations(s, ls[0], [(dev, 1000, 0)], at(5), None)
        store.insert_allocations(s, ls[1], [(other, 1000, 0)], at(30), at(90))  # a reservation
        store.end_open_allocations(s, ls[0], at(5))
        store.end_open_allocations(s, ls[1], at(10))  # given up before it started
    with p.tx() as s:
        got = {r.lease_id: (r.start_at, r.end_at) for r in s.scalars(select(AllocationRow))}
    assert got == {ls[0]: (at(5), at(5)), ls[1]: (at(30), at(30))}


WINDOW = st.tuples(st.integers(0, 20), st.one_of(st.none(), st.integers(0, 12)), st.sampled_from([1000, 600, 500,
                                                                                                  400, 250, 1]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(windows=st.lists(WINDOW, min_size=1, max_size=8))
def test_the_database_accepts_exactly_what_keeps_the_load_within_capacity(leases, windows) -> None:  # type: ignore[no-untyped-def]
    """Write windows one by one: each is accepted iff the device's load stays <= 1000 everywhere."""
    p, ls, (dev, _other) = leases
    accepted: list[tuple[datetime, datetime | None, int]] = []
    with p.tx() as s:
        for i, (start, length, milli) in enumerate(windows):
            w = (at(start), None if length is None else at(start + length), milli)
            fits = max_load([*accepted, w]) <= 1000
            sp = s.begin_nested()
            try:
                put(s, ls[i % 4], dev, milli, w[0], w[1])
                sp.commit()
                ok = True
            except IntegrityError:
                sp.rollback()
                ok = False
            assert ok == fits, (accepted, w)
            if ok:
                accepted.append(w)
        s.rollback()


def _migration():  # type: ignore[no-untyped-def]
    path = Path(capacity.__file__).parent / "migrations" / "versions" / "0007_allocations_granted_time.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=60, deadline=None)
@given(windows=st.lists(WINDOW, min_size=1, max_size=10))
def test_the_upgrade_repair_fits_every_row_inside_its_recorded_window(windows) -> None:  # type: ignore[no-untyped-def]
    """Rows recorded before revision 0007 may overlap; the repair starts a row later (or makes it
    zero-length), never earlier, never longer, and leaves every device within capacity."""
    m = _migration()
    accepted: list[tuple[int, datetime, datetime | None, int]] = []
    for i, (start, length, milli) in enumerate(windows):
        s0, e0 = at(start), None if length is None else at(start + length)
        s1, e1 = m._fit(accepted, (i, s0, e0, milli))
        assert s1 >= s0 and e1 in (e0, s1)
        if e0 is not None:
            assert s1 <= e0
        accepted.append((i, s1, e1, milli))
    assert max_load([(a, b, c) for _i, a, b, c in accepted]) <= 1000


def test_the_upgrade_repairs_overlapping_rows_then_enforces_the_rule(leases) -> None:  # type: ignore[no-untyped-def]
    p, ls, (dev, _other) = leases
    with p.engine.begin() as conn:
        capacity.uninstall(conn)  # the database as it was before revision 0007
    with p.tx() as s:
        put(s, ls[0], dev, 1000, at(0), at(60))
        put(s, ls[1], dev, 1000, at(0), at(90))  # recorded from the order's arrival: overlaps [0, 60)
        put(s, ls[2], dev, 1000, at(10), at(50))  # never fits beside the two
    with p.engine.begin() as conn:
        _migration()._repair_overlaps(conn)
        capacity.install(conn)
    with p.tx() as s:
        got = {r.lease_id: (r.start_at, r.end_at) for r in s.scalars(select(AllocationRow))}
    assert got == {ls[0]: (at(0), at(60)), ls[1]: (at(60), at(90)), ls[2]: (at(50), at(50))}
    assert refused(p, lambda s: put(s, ls[3], dev, 1000, at(89), at(95)))


def test_shrinking_an_allocation_is_never_refused_and_growing_one_still_is(leases) -> None:  # type: ignore[no-untyped-def]
    """Migration 0020: an UPDATE that only shrinks a counted row skips the checks (it cannot add
    load); one that grows it, moves it or undraws it is still checked."""
    p, ls, (dev, other) = leases
    with p.tx() as s:
        a = put(s, ls[0], dev, 600, at(0), None)
        put(s, ls[1], dev, 400, at(0), at(60))
        aid = a.id
    assert not refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.id == aid)
                                              .values(end_at=at(30))))  # ended early
    assert not refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.id == aid)
                                              .values(milli=500, start_at=at(10), end_at=at(20))))
    assert refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.id == aid)
                                          .values(milli=700, end_at=at(20))))  # more milli
    with p.tx() as s:
        put(s, ls[2], dev, 500, at(20), at(60))
    assert refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.id == aid)
                                          .values(end_at=at(25))))  # a later end: 500 + 400 + 500 at 20
    assert not refused(p, lambda s: s.execute(update(AllocationRow).where(AllocationRow.id == aid)
                                              .values(device_id=other)))  # moved to another device: checked, fits


@pytest.mark.second_connection  # the holder's lock and the end on another connection, on one thread
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_ending_an_allocation_takes_no_device_lock(leases) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: while a grant in flight holds the device row, a lease end on that device does not
    wait for it (it would hit the lock timeout before migration 0020)."""
    p, ls, (dev, _other) = leases
    with p.tx() as s:
        aid = put(s, ls[0], dev, 300, at(0), None).id
    with p.tx() as holder:
        holder.execute(select(DeviceRow.id).where(DeviceRow.id == dev).with_for_update())  # the batch's claim
        with p.tx() as s:
            s.execute(text("SET LOCAL lock_timeout = '3s'"))
            s.execute(update(AllocationRow).where(AllocationRow.id == aid).values(end_at=at(5)))
        with p.tx() as s:  # a grant on that device does wait: the rule still locks for what adds load
            s.execute(text("SET LOCAL lock_timeout = '100ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                put(s, ls[1], dev, 100, at(10), None)

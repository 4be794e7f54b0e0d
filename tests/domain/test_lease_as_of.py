"""A lease as it is at an instant: the moves time makes, derived on read (domain.leases.as_of)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.leases import (
    END_REASON,
    START_REASON,
    Allocation,
    Lease,
    LeaseState,
    ProductForm,
    as_of,
    due_moves,
)

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
H = timedelta(hours=1)


def _alloc(start: datetime, end: datetime | None, slot: int = 0) -> Allocation:
    return Allocation(slot + 1, "n1", slot, "H800", "site-1", "sup", "fab", 1000, 0, start, end)


def _lease(state: LeaseState, start: datetime, end: datetime | None, *, activated: datetime | None = None,
           allocations: tuple[Allocation, ...] | None = None) -> Lease:
    allocs = allocations if allocations is not None else (_alloc(start, end),)
    return Lease("ls_1", "or_1", "t1", ProductForm.GPU, state, start, end, activated, None, "", Decimal("0.1"),
                 "fgd", start - H, allocs)


def test_a_reservation_whose_start_came_is_active_from_its_start() -> None:
    lease = _lease(LeaseState.SCHEDULED, T0, T0 + 5 * H)
    now = T0 + 30 * timedelta(minutes=1)
    got = as_of(lease, now)
    assert (got.state, got.activated_at, got.ended_at, got.reason) == (LeaseState.ACTIVE, T0, None, START_REASON)
    assert got.allocations == lease.allocations
    assert [(m.at, m.frm, m.to) for m in due_moves(lease, now)] == [(T0, LeaseState.SCHEDULED, LeaseState.ACTIVE)]


def test_a_term_that_is_over_ended_at_its_end_with_its_devices_given_up_then() -> None:
    lease = _lease(LeaseState.ACTIVE, T0, T0 + 2 * H, activated=T0,
                   allocations=(_alloc(T0, None), _alloc(T0 + 3 * H, None, 1), _alloc(T0, T0 + H, 2)))
    got = as_of(lease, T0 + 10 * H)
    assert (got.state, got.activated_at, got.ended_at, got.reason) == (LeaseState.ENDED, T0, T0 + 2 * H, END_REASON)
    # held past the end: ends at the end; not started by then: zero-length; ended before: kept
    assert [a.end for a in got.allocations] == [T0 + 2 * H, T0 + 3 * H, T0 + H]


def test_a_reservation_whose_whole_window_passed_started_and_ended() -> None:
    lease = _lease(LeaseState.SCHEDULED, T0, T0 + H)
    got = as_of(lease, T0 + 5 * H)
    assert (got.state, got.activated_at, got.ended_at) == (LeaseState.ENDED, T0, T0 + H)
    assert [(m.at, m.to) for m in due_moves(lease, T0 + 5 * H)] == [(T0, LeaseState.ACTIVE), (T0 + H, LeaseState.ENDED)]


def test_a_suspended_lease_ends_at_its_end_but_an_interrupted_or_open_ended_one_does_not() -> None:
    assert as_of(_lease(LeaseState.SUSPENDED, T0, T0 + H, activated=T0), T0 + 2 * H).state is LeaseState.ENDED
    interrupted = _lease(LeaseState.INTERRUPTED, T0, T0 + H, activated=T0)
    assert as_of(interrupted, T0 + 2 * H) is interrupted
    open_ended = _lease(LeaseState.ACTIVE, T0, None, activated=T0)
    assert as_of(open_ended, T0 + 1000 * H) is open_ended


def test_nothing_due_is_the_lease_itself() -> None:
    lease = _lease(LeaseState.SCHEDULED, T0, T0 + H)
    assert as_of(lease, T0 - timedelta(seconds=1)) is lease
    assert due_moves(lease, T0 - timedelta(seconds=1)) == []


STATES = st.sampled_from([LeaseState.SCHEDULED, LeaseState.ACTIVE, LeaseState.SUSPENDED, LeaseState.INTERRUPTED,
                          LeaseState.ENDED, LeaseState.CANCELLED])
OFFSETS = st.integers(min_value=0, max_value=20 * 3600)


@given(STATES, OFFSETS, st.one_of(st.none(), st.integers(min_value=1, max_value=10 * 3600)), OFFSETS, OFFSETS)
def test_deriving_twice_is_deriving_once_at_the_later_instant(state: LeaseState, start_s: int, term_s: int | None,
                                                                a_s: int, b_s: int) -> None:
    start = T0 + timedelta(seconds=start_s)
    end = None if term_s is None else start + timedelta(seconds=term_s)
    activated = start if state in (LeaseState.ACTIVE, LeaseState.SUSPENDED, LeaseState.ENDED) else None
    lease = _lease(state, start, end, activated=activated)
    t1, t2 = sorted((T0 + timedelta(seconds=a_s), T0 + timedelta(seconds=b_s)))
    assert as_of(as_of(lease, t1), t2) == as_of(lease, t2)
    assert as_of(as_of(lease, t2), t2) == as_of(lease, t2)
    assert not due_moves(as_of(lease, t2), t2)

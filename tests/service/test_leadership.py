"""Leadership of the background work: the lease row, takeover, epochs and fencing (SQLite and PostgreSQL).

Two :class:`Replica` objects on one platform stand for two server processes on one database (each
has its own id and epoch, exactly as two processes would); time is the FakeClock's.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from suanli.domain.accounts import Principal, Role
from suanli.domain.leases import LeaseState
from suanli.errors import ConflictError, FencedError, ValidationError
from suanli.service import orders, reconcile
from suanli.service.fencing import Fence, fenced
from suanli.service.leadership import Replica, current, replica
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.store import accounts as account_store
from suanli.store import leases as lease_store
from suanli.testing.clock import FakeClock

TTL = 10  # the default lease, seconds


def test_first_replica_takes_over_and_the_second_waits_for_expiry(platform: Platform, clock: FakeClock) -> None:
    a, b = Replica(platform, replica_id="r-a"), Replica(platform, replica_id="r-b")
    assert current(platform).epoch == 0 and current(platform).holder is None  # the migration's row
    assert a.lead() == 1
    assert b.lead() is None  # held by a
    clock.advance(seconds=TTL - 1)
    assert a.lead() == 1  # renewed: same epoch
    clock.advance(seconds=TTL - 1)
    assert b.lead() is None  # a's renewal still holds
    clock.advance(seconds=2)
    assert b.lead() == 2  # expired: taken over, the epoch goes up
    row = current(platform)
    assert (row.holder, row.epoch, row.since) == ("r-b", 2, clock.now())
    assert row.expires_at == clock.now() + timedelta(seconds=TTL)
    assert a.lead() is None  # a lost it: its renewal under epoch 1 matches nothing
    assert not a.status()["leading"] and b.status()["leading"]
    assert a.status()["leader"]["holder"] == "r-b"


def test_every_takeover_increments_the_epoch(platform: Platform, clock: FakeClock) -> None:
    a, b = Replica(platform, replica_id="r-a"), Replica(platform, replica_id="r-b")
    seen = []
    for k in range(4):
        who = (a, b)[k % 2]
        epoch = who.lead()
        assert epoch is not None
        seen.append(epoch)
        clock.advance(seconds=TTL)  # lapses exactly at expires_at
    assert seen == [1, 2, 3, 4]


def test_release_hands_over_at_once_and_fences_the_work_still_in_flight(platform: Platform,
                                                                         clock: FakeClock) -> None:
    a, b = Replica(platform, replica_id="r-a"), Replica(platform, replica_id="r-b")
    assert a.lead() == 1
    assert a.release()
    assert current(platform).holder is None
    assert b.lead() == 2  # no wait for the TTL
    with pytest.raises(FencedError), fenced(Fence("background", "r-a", 1, timedelta(seconds=TTL))), platform.tx():
        pass


def test_a_stale_epoch_write_is_refused_and_rolls_back(platform: Platform, operator: Principal,
                                                       clock: FakeClock) -> None:
    a, b = Replica(platform, replica_id="r-a"), Replica(platform, replica_id="r-b")
    assert a.lead() == 1
    fence = Fence("background", "r-a", 1, timedelta(seconds=TTL))
    with fenced(fence), platform.tx() as s:  # current epoch: the write goes through
        account_store.create_account(s, "first", Role.TENANT, None, clock.now())
    clock.advance(seconds=TTL + 1)
    assert b.lead() == 2
    ran = False
    with pytest.raises(FencedError) as refused, fenced(fence), platform.tx() as s:
        ran = True
        account_store.create_account(s, "second", Role.TENANT, None, clock.now())
    assert not ran  # refused at the start of the transaction, before any write
    assert refused.value.details == {"name": "background", "epoch": 1, "current_epoch": 2}
    with platform.tx() as s:
        names = {x.name for x in account_store.list_accounts(s)}
    assert "first" in names and "second" not in names
    assert current(platform).expires_at == clock.now() + timedelta(seconds=TTL)  # a's refusal did not renew b's


def test_a_deposed_leaders_pass_writes_nothing_and_the_new_leaders_does(demo: Platform, tenant: Principal,
                                                                        clock: FakeClock) -> None:
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"],
                                                  "hours": 1}).order.lease_id or ""
    a, b = Replica(demo, replica_id="r-a"), Replica(demo, replica_id="r-b")
    assert a.lead() == 1
    clock.advance(hours=2)  # the term is over, and a's lease lapsed
    assert b.lead() == 2
    with pytest.raises(FencedError), fenced(Fence("background", "r-a", 1, a.ttl)):  # a runs a pass: refused
        reconcile.run_pass(demo)
    with demo.tx() as s:
        assert lease_store.get_lease(s, lease_id).state is LeaseState.ACTIVE  # nothing written
    assert a.run(lambda: reconcile.run_pass(demo)) is None  # a's own loop: not the leader, does nothing
    out = b.run(lambda: reconcile.run_pass(demo))
    assert out is not None and out["lease_moves"] == 1
    with demo.tx() as s:
        assert lease_store.get_lease(s, lease_id).state is LeaseState.ENDED


def test_run_now_on_a_replica_that_does_not_lead_is_a_409_naming_the_leader(platform: Platform,
                                                                              operator: Principal) -> None:
    other = Replica(platform, replica_id="r-other")
    assert other.lead() == 1
    with pytest.raises(ConflictError, match="replica r-other leads the background work"):
        reconcile.run_now(platform, operator)
    assert replica(platform).status()["leader"]["holder"] == "r-other"
    assert other.release()
    out = reconcile.run_now(platform, operator)  # nobody leads: this replica takes the lead and runs
    assert "lease_moves" in out and replica(platform).status()["leading"]


def test_concurrent_takeovers_of_an_expired_lease_elect_exactly_one(platform: Platform, clock: FakeClock) -> None:
    candidates = [Replica(platform, replica_id=f"r-{k}") for k in range(6)]
    start = threading.Barrier(len(candidates))
    won: list[int | None] = [None] * len(candidates)

    def run(k: int) -> None:
        start.wait(timeout=30)
        won[k] = candidates[k].lead()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(candidates))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [w for w in won if w is not None] == [1]
    holder = current(platform).holder
    assert holder == candidates[won.index(1)].id


def test_the_lease_must_outlive_the_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="must be longer than"):
        Replica(Platform(Settings(data_dir=tmp_path, background_interval_seconds=5, leader_ttl_seconds=5)))
    monkeypatch.setenv("SUANLI_LEADER_TTL_SECONDS", "soon")
    with pytest.raises(ValidationError, match="SUANLI_LEADER_TTL_SECONDS='soon' is not a number of seconds"):
        Settings.from_env()
    monkeypatch.setenv("SUANLI_LEADER_TTL_SECONDS", "nan")
    with pytest.raises(ValidationError):
        Settings.from_env()
    monkeypatch.setenv("SUANLI_LEADER_TTL_SECONDS", "3")
    monkeypatch.setenv("SUANLI_BACKGROUND_INTERVAL_SECONDS", "0.5")
    s = Settings.from_env()
    assert (s.leader_ttl_seconds, s.background_interval_seconds) == (3.0, 0.5)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_leader_whose_session_ended_is_replaced_before_its_lease_expires(platform: Platform,
                                                                            clock: FakeClock) -> None:
    """PostgreSQL: the leader holds its epoch's advisory lock on its own connection; when that
    connection ends (the process killed), another replica takes over at once, not after the TTL."""
    a, b, c = (Replica(platform, replica_id=f"r-{x}") for x in "abc")
    assert a.lead() == 1
    assert b.lead() is None and c.lead() is None  # a's session is alive: its lease stands
    assert a._conn is not None
    a._conn.invalidate()  # what SIGKILL does to a's connection: the server frees its locks
    assert b.lead() == 2  # no clock advance: a's lease had 10 s left
    assert c.lead() is None  # b's session holds epoch 2's lock
    assert a.lead() is None  # a (alive after all, new connection) is not leader any more
    with pytest.raises(FencedError), fenced(Fence("background", "r-a", 1, a.ttl)), platform.tx():
        pass  # and its writes under epoch 1 are refused
    assert b.lead() == 2 and c.lead() is None  # b renews and keeps it
    assert b.release()
    assert c.lead() == 3


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_takeover_waits_for_the_fenced_transaction_in_flight(platform: Platform, clock: FakeClock) -> None:
    """PostgreSQL: the fence's UPDATE keeps the row locked until the fenced transaction ends, so a
    takeover cannot commit between a leader's check and its write: it waits, then sees the renewal."""
    a, b = Replica(platform, replica_id="r-a"), Replica(platform, replica_id="r-b")
    assert a.lead() == 1
    clock.advance(seconds=TTL + 1)  # a's lease has lapsed, but a is still at work
    checked, go = threading.Event(), threading.Event()

    def leader_writes() -> None:
        with fenced(Fence("background", "r-a", 1, a.ttl)), platform.tx() as s:  # renews: until now + TTL
            checked.set()
            assert go.wait(timeout=60)
            account_store.create_account(s, "written-by-a", Role.TENANT, None, clock.now())

    result: list[int | None] = []
    writer = threading.Thread(target=leader_writes)
    writer.start()
    assert checked.wait(timeout=60)
    taker = threading.Thread(target=lambda: result.append(b.lead()))
    taker.start()
    deadline = time.monotonic() + 60
    with platform.engine.connect() as c:  # until b's takeover is blocked on the row a holds
        while not c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one():
            assert time.monotonic() < deadline and taker.is_alive(), "the takeover did not wait"
            time.sleep(0.02)  # polling the database for the blocked backend, bounded
            c.rollback()
    go.set()
    writer.join(timeout=60)
    taker.join(timeout=60)
    assert result == [None]  # a's transaction renewed the lease before b could take it
    row = current(platform)
    assert (row.holder, row.epoch) == ("r-a", 1)
    with platform.tx() as s:
        assert "written-by-a" in {x.name for x in account_store.list_accounts(s)}

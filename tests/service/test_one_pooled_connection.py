"""A transaction never takes a second pooled connection on its own thread (SQLite and PostgreSQL).

The deadlock class (docs/performance.md, "The order and the end", item 5, and the stall after it): on
SQLite a write transaction holds the write lock; the requests queued behind that lock hold the pool's
connections; a read inside the transaction that asks the pool for another connection waits for one of
them — until the pool's timeout, and the requests fail with 500s. Two reads did it: the agent nodes
(``Platform.driver``, cached one second) and the typical mix fgd+ learns from recent orders (cached for
``placement_mix_refresh_seconds``). Each test here makes both caches due and then runs a path that uses
them inside its transaction, and counts the connections its thread held at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text

from suanli.domain.accounts import Principal
from suanli.domain.leases import parse_order
from suanli.service import leases, orders, placement, reconcile, slicing, typical_mix
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


@contextmanager
def most_held(p: Platform) -> Iterator[dict[str, int]]:
    """The most pooled connections this thread held at once while inside."""
    me = threading.get_ident()
    held = {"now": 0, "most": 0}

    def checkout(*_args: object) -> None:
        if threading.get_ident() == me:
            held["now"] += 1
            held["most"] = max(held["most"], held["now"])

    def checkin(*_args: object) -> None:
        if threading.get_ident() == me:
            held["now"] -= 1

    event.listen(p.engine.pool, "checkout", checkout)
    event.listen(p.engine.pool, "checkin", checkin)
    try:
        yield held
    finally:
        event.remove(p.engine.pool, "checkout", checkout)
        event.remove(p.engine.pool, "checkin", checkin)


def _due(p: Platform) -> None:
    p.agent_nodes_changed()
    typical_mix.forget(p)


def _slice(p: Platform, tenant: Principal) -> str:
    res = orders.create_order(p, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    assert res.order.lease_id is not None
    return res.order.lease_id


def test_the_driver_and_a_snapshot_inside_a_transaction(demo: Platform) -> None:
    now = demo.clock.now()
    with most_held(demo) as held, demo.tx() as s:
        s.execute(text("SELECT 1"))  # the transaction holds its connection from here
        _due(demo)
        assert demo.driver is not None
        slicing.mechanisms(demo)
        snap = placement.snapshot(demo, s, now, None)
        assert snap.mix is not None
        spec = parse_order({"form": "slice", "share_pct": 10, "memory_mib": 1024, "allow_unenforced": True}, now=now)
        _due(demo)
        assert isinstance(placement.plan(demo, snap, spec, seed="x"), placement.Plan)
    assert held["most"] == 1, held


def test_the_end_and_the_background_pass(demo: Platform, tenant: Principal, clock: FakeClock) -> None:
    lease_id = _slice(demo, tenant)
    clock.advance(60)
    _due(demo)
    with most_held(demo) as held:
        leases.end_lease(demo, tenant, lease_id)
    assert held["most"] == 1, held
    _slice(demo, tenant)
    clock.advance(3600)
    _due(demo)
    with most_held(demo) as held:
        assert reconcile.background_pass(demo) is not None
    assert held["most"] == 1, held

"""Two ``suanli serve`` replicas on one PostgreSQL, one killed with SIGKILL mid-burst (PostgreSQL only).

Real processes (``suanli.testing.serve``), real sockets. Tenants loop "order a slice, end it" and an
agent sends usage batches with fixed event ids at BOTH replicas at once; when both have served a
share of it, the replica that leads the background work is killed with SIGKILL (by its PID). A
client that loses its replica fails over to the survivor and resends what was in flight with the
same ``Idempotency-Key`` / event ids, as a client behind a load balancer would; the load goes on at
the survivor. Then, read back from the database:

- no device was ever loaded beyond its capacity (every recorded allocation window), every granted
  lease has its record, and each idempotency key made exactly one order, whichever replica took it;
- every usage event is stored exactly once (acknowledged batches all there; resends deduplicated);
- the survivor took over the background work within one interval (plus scheduling slack on a loaded
  machine), long before the dead leader's lease expired, with the next epoch, and its pass runs: a
  lease whose term ended gets ended;
- until the kill the epoch never moved: exactly one replica led.

A second test runs two replicas on ONE address (``--reuse-port``): connections reach both, one leads,
and a clean stop hands the lead over at the other's next interval.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from suanli.domain.capacity import max_load_per_device
from suanli.testing.serve import UNLIMITED, ServeProcess, clean_env, free_port, start_serve

INTERVAL_S, TTL_S = 0.5, 30.0
"""A long lease on purpose: the survivor must take over within one interval after SIGKILL (the killed
leader's session, and its epoch's advisory lock, end with it), long before the lease expires."""
SLACK_S = 10.0
"""Scheduling slack on a loaded 2-core machine, on top of the stated takeover time."""
ENV = clean_env(**UNLIMITED, SUANLI_DRIVER="none", SUANLI_BACKGROUND_INTERVAL_SECONDS=str(INTERVAL_S),
                SUANLI_LEADER_TTL_SECONDS=str(TTL_S))
DEADLINE_S = 180.0
WORKERS, PER_BATCH = 8, 200
SLICE = {"form": "slice", "share_pct": 10, "memory_mib": 1024}

ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def sql(db: str, query: str, **params: Any) -> list[Any]:
    eng = create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with eng.connect() as c:
            return list(c.execute(text(query), params).all())
    finally:
        eng.dispose()


def background(srv: ServeProcess) -> dict[str, Any]:
    out: dict[str, Any] = httpx.get(f"{srv.url}/health", timeout=10).json()["background"]
    return out


def wait_for(what: str, cond: Any, deadline_s: float) -> Any:
    """Poll ``cond()`` until it returns something truthy; fail after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < end, f"not within {deadline_s:g} s: {what}"
        time.sleep(0.05)  # polling real processes, bounded by the deadline


class Load:
    """Order-and-end loops and usage senders at two replicas, failing over to the other on a lost connection."""

    def __init__(self, urls: list[str], tenants: list[str], op: str) -> None:
        self.urls, self.tenants, self.op = urls, tenants, op
        self.other = {urls[0]: urls[1], urls[1]: urls[0]}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.granted: dict[str, str] = {}  # idempotency key -> lease id (tenant-scoped keys are unique here)
        self.replays: list[tuple[str, str]] = []  # (key, lease id) answered again after a failover
        self.by_url: Counter[str] = Counter()  # grants per replica
        self.after_kill = 0
        self.failovers = 0
        self.batches: dict[int, dict[str, int]] = {}  # batch -> the acknowledgement
        self.sent: set[int] = set()
        self.killed = threading.Event()
        self.errors: list[str] = []

    def request(self, c: dict[str, httpx.Client], url: list[str], path: str, token: str, **kw: Any
                ) -> httpx.Response:
        """POST at this worker's replica; on a lost connection, the same request at the other one."""
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        for _ in range(3):
            try:
                return c[url[0]].post(path, headers=headers, **kw)
            except httpx.TransportError:
                with self.lock:
                    self.failovers += 1
                url[0] = self.other[url[0]]
        raise AssertionError(f"no replica answered {path}")

    def orders(self, i: int) -> None:
        url = [self.urls[i % 2]]
        token = self.tenants[i]
        clients = {u: httpx.Client(base_url=u, timeout=60) for u in self.urls}
        try:
            n = 0
            while not self.stop.is_set():
                key = f"w{i}-{n}"
                n += 1
                first = url[0]
                r = self.request(clients, url, "/v1/orders", token, json=SLICE, headers={"Idempotency-Key": key})
                for _ in range(20):  # the order queue's 503: the same key again
                    if r.status_code != 503:
                        break
                    r = self.request(clients, url, "/v1/orders", token, json=SLICE, headers={"Idempotency-Key": key})
                assert r.status_code == 201, r.text
                lease = r.json()["lease_id"]
                with self.lock:
                    assert self.granted.setdefault(key, lease) == lease
                    self.by_url[url[0]] += 1
                    if url[0] != first:
                        self.replays.append((key, lease))
                    if self.killed.is_set():
                        self.after_kill += 1
                first = url[0]
                r = self.request(clients, url, f"/v1/leases/{lease}/end", token, json={})
                # ended twice only when the first end was in flight at the killed replica
                assert r.status_code == 200 or (r.status_code == 409 and url[0] != first), r.text
        except BaseException as e:
            self.errors.append(f"orders {i}: {e!r}")
            raise
        finally:
            for c in clients.values():
                c.close()

    def usage(self, r: int) -> None:
        url = [self.urls[r]]
        clients = {u: httpx.Client(base_url=u, timeout=60) for u in self.urls}
        try:
            k = r
            while not self.stop.is_set():
                with self.lock:
                    self.sent.add(k)
                resp = self.request(clients, url, "/v1/usage/batch", self.op, content=batch(k),
                                    headers={"Content-Type": "application/json"})
                assert resp.status_code == 202, resp.text
                with self.lock:
                    self.batches[k] = resp.json()
                k += 2
        except BaseException as e:
            self.errors.append(f"usage {r}: {e!r}")
            raise
        finally:
            for c in clients.values():
                c.close()


def batch(k: int) -> bytes:
    import json

    return json.dumps({"events": [
        {"id": f"b{k}-{j}", "source": "agent/replicas", "type": "egress_gb", "subject": "rt0",
         "time": "2026-01-01T00:00:00Z", "data": {"quantity": str(k + 1)}} for j in range(PER_BATCH)]}).encode()


@pytest.fixture
def replicas(db_url: str, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    try:
        for name in ("a", "b"):
            started.append(start_serve(tmp_path / name, database_url=db_url, env=ENV, deadline_s=DEADLINE_S))
        yield started
    finally:
        for srv in started:
            srv.stop()


@ON_POSTGRES
def test_two_replicas_one_killed_mid_burst(replicas: list[ServeProcess], db_url: str) -> None:
    a, b = replicas
    op = a.tokens()["operator"]
    with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {op}"}, timeout=60) as c:
        tenants = []
        for i in range(WORKERS):
            r = c.post("/v1/accounts", json={"name": f"rt{i}", "role": "tenant"})
            assert r.status_code == 201, r.text
            tenants.append(r.json()["token"])

    def one_leader() -> tuple[ServeProcess, ServeProcess] | None:
        ba, bb = background(a), background(b)
        if ba["leading"] != bb["leading"]:
            return (a, b) if ba["leading"] else (b, a)
        return None

    leader, survivor = wait_for("one replica leads", one_leader, DEADLINE_S)
    epoch0 = background(leader)["leader"]["epoch"]
    ids = {background(s)["replica"] for s in (a, b)}
    assert len(ids) == 2  # two replicas, two ids

    load = Load([a.url, b.url], tenants, op)
    threads = [threading.Thread(target=load.orders, args=(i,)) for i in range(WORKERS)]
    threads += [threading.Thread(target=load.usage, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    try:
        wait_for("both replicas take orders and usage",
                 lambda: (min(load.by_url[a.url], load.by_url[b.url]) >= 10 and len(load.batches) >= 6)
                 or load.errors, DEADLINE_S)
        assert not load.errors, load.errors
        epoch_before_kill = sql(db_url, "SELECT epoch FROM leadership WHERE name = 'background'")[0][0]
        assert epoch_before_kill == epoch0  # one leader the whole time: the epoch never moved
        load.killed.set()
        os.kill(leader.proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        leader.proc.wait(timeout=30)

        took_over = wait_for("the survivor leads",
                             lambda: (h := background(survivor))["leading"] and h["leader"]["epoch"] > epoch0 and h,
                             INTERVAL_S + SLACK_S)
        takeover_s = time.monotonic() - killed_at
        assert took_over["leader"]["epoch"] == epoch0 + 1 and took_over["leader"]["holder"] == took_over["replica"]
        print(f"takeover after SIGKILL: {takeover_s:.2f} s (stated: one interval, {INTERVAL_S:g} s; lease {TTL_S:g} s)")

        # the survivor's pass runs: a lease whose term ends is ended by it
        end = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        with httpx.Client(base_url=survivor.url, headers={"Authorization": f"Bearer {tenants[0]}"}, timeout=60) as c:
            r = c.post("/v1/orders", json={**SLICE, "end": end.isoformat()})
            assert r.status_code == 201, r.text
            term = r.json()["lease_id"]
        wait_for("the term lease is ended by the survivor's background pass",
                 lambda: sql(db_url, "SELECT 1 FROM leases l JOIN lease_events e ON e.lease_id = l.id "
                                     "WHERE l.id = :id AND l.state = 'ended' AND e.reason = 'term over'", id=term),
                 3 + INTERVAL_S + SLACK_S)
        wait_for("the survivor keeps serving after the kill",
                 lambda: (load.after_kill >= 20 and len(load.batches) >= 12) or load.errors, DEADLINE_S)
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=120)
    assert not load.errors, load.errors
    assert load.failovers > 0  # clients really lost the killed replica mid-burst

    # usage: resend every batch sent so far to the survivor (an agent retrying after the kill)
    with httpx.Client(base_url=survivor.url, headers={"Authorization": f"Bearer {op}"}, timeout=60) as c:
        resent = Counter[str]()
        for k in sorted(load.sent):
            r = c.post("/v1/usage/batch", content=batch(k), headers={"Content-Type": "application/json"})
            assert r.status_code == 202, r.text
            resent.update(accepted=r.json()["accepted"], duplicates=r.json()["duplicates"])
    n, distinct, total = sql(db_url, "SELECT count(*), count(DISTINCT event_id), coalesce(sum(quantity), 0) "
                                     "FROM usage_events WHERE source = 'agent/replicas'")[0]
    assert n == distinct == len(load.sent) * PER_BATCH  # every event once: nothing lost, nothing twice
    assert total == PER_BATCH * sum(k + 1 for k in load.sent)
    assert resent["accepted"] == 0  # every batch was in (acknowledged or not) before the resend
    assert resent["duplicates"] == n
    accepted = sum(x["accepted"] for x in load.batches.values())
    assert accepted <= n and all(x["accepted"] + x["duplicates"] == PER_BATCH for x in load.batches.values())

    # orders: capacity never exceeded, each key one order, each grant recorded
    rows = sql(db_url, "SELECT device_id, start_at, end_at, milli FROM allocations WHERE drawn_from IS NULL")
    loads = max_load_per_device((d, s, e, m) for d, s, e, m in rows)
    assert loads and max(loads.values()) <= 1000, {d: v for d, v in loads.items() if v > 1000}
    orders = sql(db_url, "SELECT o.idempotency_key, l.id FROM orders o JOIN accounts t ON t.id = o.tenant_id "
                         "JOIN leases l ON l.order_id = o.id WHERE t.name LIKE 'rt%' AND o.idempotency_key LIKE 'w%'")
    by_key = Counter(k for k, _ in orders)
    assert by_key and max(by_key.values()) == 1
    stored = dict(orders)
    missing = {k: v for k, v in load.granted.items() if stored.get(k) != v}
    assert not missing, (missing, sql(db_url, "SELECT o.idempotency_key, o.id, o.tenant_id, l.id, l.order_id, l.state "
                                              "FROM leases l LEFT JOIN orders o ON o.id = l.order_id WHERE l.id = ANY(:ids)",
                                      ids=list(missing.values())))  # replays answered the same lease
    recorded = {x[0] for x in sql(db_url, "SELECT DISTINCT lease_id FROM allocations")}
    assert set(load.granted.values()) <= recorded
    final = sql(db_url, "SELECT holder, epoch FROM leadership WHERE name = 'background'")[0]
    assert tuple(final) == (took_over["replica"], epoch0 + 1)
    assert "reconcile pass failed" not in survivor.log.read_text()
    print(f"grants: {dict(load.by_url)}, after the kill: {load.after_kill}, failovers: {load.failovers}, "
          f"replayed after failover: {len(load.replays)}, usage batches: {len(load.sent)}, "
          f"max device load: {max(loads.values())} milli")


@ON_POSTGRES
def test_replicas_share_one_address_and_a_clean_stop_hands_over(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    started: list[ServeProcess] = []
    try:
        for name in ("a", "b"):
            started.append(start_serve(tmp_path / name, database_url=db_url, env=ENV, deadline_s=DEADLINE_S,
                                       port=port, extra_args=["--reuse-port"]))
        url = started[0].url
        assert started[1].url == url
        seen: dict[str, bool] = {}

        def both_answer() -> bool:
            h = httpx.get(f"{url}/health", timeout=10).json()["background"]  # a new connection each time
            seen[h["replica"]] = h["leading"]
            return len(seen) == 2 and sum(seen.values()) == 1

        wait_for("both replicas answer on one address, one of them leading", both_answer, DEADLINE_S)
        leader = next(r for r, leading in seen.items() if leading)
        pids = {srv.proc.pid: srv for srv in started}
        logs = {pid: srv.log.read_text() for pid, srv in pids.items()}
        stopping = next(srv for srv in started if f"replica {leader}" in logs[srv.proc.pid])
        stopping.stop()  # SIGTERM: the lease is released on the way out
        def other_leads() -> bool:
            try:  # a connection queued at the stopping replica may be reset: ask again
                h = httpx.get(f"{url}/health", timeout=10).json()["background"]
            except httpx.TransportError:
                return False
            return bool(h["leading"]) and h["replica"] != leader

        wait_for("the other replica leads after a clean stop", other_leads, INTERVAL_S + SLACK_S)
        assert "released background" in stopping.log.read_text()
    finally:
        for srv in started:
            srv.stop()


def test_reuse_port_is_refused_on_sqlite(tmp_path: Path) -> None:
    from suanli.cli.main import app

    r = CliRunner().invoke(app, ["serve", "--reuse-port", "--data-dir", str(tmp_path), "--port", str(free_port())],
                           env={"SUANLI_DATABASE_URL": ""})
    assert r.exit_code == 1 and "--reuse-port runs replicas that share one PostgreSQL database" in r.output

"""Reads never write: every GET route, as the tenant, a supplier and the operator, on a fleet whose
leases are due (a reservation's start has come; later, terms are over) runs no INSERT, UPDATE or
DELETE and takes no write transaction (SQLite: no ``BEGIN IMMEDIATE``), on SQLite and PostgreSQL;
and the same GETs show the leases as they are now, which the background pass then stores unchanged.

The world is the route × role matrix's (tests/api/test_authz_matrix.py): its route table, its
objects and its requests. Statements are counted with a ``before_cursor_execute`` listener on the
platform's engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from test_authz_matrix import EXPECTED, World, _build, request_for

from suanli.api.app import create_app
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.fake_driver import FakeDriver

RESERVATION_STARTED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # the reservations start 12-01 00:00, for 24 h
TERMS_OVER = datetime(2026, 12, 31, 6, 0, tzinfo=UTC)  # the leases and the cluster end 12-31 00:00
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|CREATE|DROP|ALTER|TRUNCATE)\b", re.I)
ACTORS = ("A", "S1", "op")
GETS = sorted(k for k in EXPECTED if k[0] == "GET")


class Server:
    """A platform and a client on the world's own database at a given instant."""

    def __init__(self, w: World, data_dir: Path, database_url: str | None, now: datetime) -> None:
        self.clock = FakeClock(now)
        driver = FakeDriver(w.driver.handler, clock=self.clock, grants=dict(w.driver.grants),
                            jobs=dict(w.driver.jobs), _seq=w.driver._seq)
        self.platform = Platform(Settings(data_dir=data_dir, database_url=database_url, driver="none",
                                          auth_failure_limit="0"), clock=self.clock, driver=driver, migrate=False)
        self.client = TestClient(create_app(self.platform), follow_redirects=False)
        self.statements: list[str] = []
        event.listen(self.platform.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements.clear()
        yield self.statements

    def close(self) -> None:
        self.client.close()
        self.platform.close()


@pytest.fixture
def world(db_url: str | None, tmp_path: Path) -> tuple[World, str | None]:
    return _build(tmp_path / "base", db_url), db_url


def _get(srv: Server, w: World, actor: str, url: str, **params: str) -> Any:
    r = srv.client.get(url, params=params, headers=w.headers(actor))
    assert r.status_code == 200, r.text
    out = r.json()
    return out["items"] if isinstance(out, dict) and "items" in out else out


def _check_every_get_writes_nothing(srv: Server, w: World) -> None:
    for route in GETS:
        url, query, _body = request_for(w, *route)
        for actor in ACTORS:
            with srv.counting() as seen:
                r = srv.client.get(url, params=query, headers=w.headers(actor))
            expected = int(EXPECTED[route].split()[("op", "A", "B", "S1", "S2", "none", "bad").index(actor)])
            assert r.status_code == expected, f"GET {url} as {actor}: {r.status_code} {r.text[:300]}"
            writes = [x for x in seen if WRITE.match(x)]
            assert not writes, f"GET {url} as {actor} wrote: {writes}"
            locks = [x for x in seen if x.strip().upper().startswith("BEGIN IMMEDIATE")]
            assert not locks, f"GET {url} as {actor} took the write lock: {locks}"


def _lease(srv: Server, w: World, lease_id: str) -> dict[str, Any]:
    out: dict[str, Any] = _get(srv, w, "A", f"/v1/leases/{lease_id}")
    return out


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_no_get_writes_and_gets_show_the_lease_as_it_is_now(world: tuple[World, str | None]) -> None:
    w, url = world
    a = w.parties["A"].ids
    data_dir = w.base_dir

    # a reservation's start has come: nothing stored it yet
    srv = Server(w, data_dir, url, RESERVATION_STARTED)
    try:
        _check_every_get_writes_nothing(srv, w)
        res = _lease(srv, w, a["reserved_lease"])
        assert (res["state"], res["activated_at"][:19]) == ("active", "2026-12-01T00:00:00")
        assert [(e["from_state"], e["to_state"], e["actor"]) for e in res["events"]][-1] == ("scheduled", "active", "system")
        active = {x["id"] for x in _get(srv, w, "A", "/v1/leases", state="active")}
        assert {a["reserved_lease"], a["lease"], a["cluster_lease"]} <= active
        assert a["reserved_lease"] not in {x["id"] for x in _get(srv, w, "A", "/v1/leases", state="scheduled")}
        srv.client.post("/v1/engine/reconcile", headers=w.headers("op")).raise_for_status()
        assert _lease(srv, w, a["reserved_lease"]) == res  # the background pass stored what the read showed
    finally:
        srv.close()

    # the terms are over (and the reservation's day): nothing stored it yet
    srv = Server(w, data_dir, url, TERMS_OVER)
    try:
        _check_every_get_writes_nothing(srv, w)
        shown = {k: _lease(srv, w, a[k]) for k in ("lease", "cluster_lease", "reserved_lease")}
        for k, end in (("lease", "2026-12-31T00:00:00"), ("cluster_lease", "2026-12-31T00:00:00"),
                       ("reserved_lease", "2026-12-02T00:00:00")):
            lease = shown[k]
            assert (lease["state"], lease["ended_at"][:19]) == ("ended", end), k
            assert all(x["end"][:19] <= end for x in lease["allocations"]), k
            assert lease["events"][-1]["to_state"] == "ended" and lease["events"][-1]["actor"] == "system"
        listed = {x["id"]: x for x in _get(srv, w, "A", "/v1/leases", state="ended")}
        assert set(shown) and {a["lease"], a["cluster_lease"], a["reserved_lease"]} <= set(listed)
        assert not _get(srv, w, "A", "/v1/leases", state="active")
        assert a["lease"] in {x["id"] for x in _get(srv, w, "S1", "/v1/leases", state="ended")}
        srv.client.post("/v1/engine/reconcile", headers=w.headers("op")).raise_for_status()
        assert {k: _lease(srv, w, a[k]) for k in shown} == shown
    finally:
        srv.close()


VARIANTS: dict[tuple[str, str], list[dict[str, str]]] = {
    # the query parameters that take a GET down another path: each value, on the same world
    ("GET", "/v1/leases"): [{"state": s} for s in ("scheduled", "active", "suspended", "ended", "cancelled")]
    + [{"offset": "1", "limit": "1"}],
    ("GET", "/v1/invoices/{period}"): [{"format": "csv"}, {"format": "html"}],
    ("GET", "/v1/audit/export"): [{"format": "json"}],
    ("GET", "/v1/tokens"): [{"all": "true"}],
    ("GET", "/v1/reports/capacity"): [{"by": "model"}, {"by": "supplier"}],
    ("GET", "/v1/reports/capacity/now"): [{"by": "model"}],
    ("GET", "/v1/jobs"): [{"offset": "1", "limit": "1"}],
    ("GET", "/v1/orders"): [{"offset": "1", "limit": "1"}],
}


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_no_get_writes_with_its_other_query_values(world: tuple[World, str | None]) -> None:
    """The same check on the query values that take a GET down another path (a state filter, a page,
    another format, another grouping), when the leases are due."""
    w, url = world
    srv = Server(w, w.base_dir, url, TERMS_OVER)
    try:
        for route, variants in VARIANTS.items():
            assert route in EXPECTED, route
            url_, query, _body = request_for(w, *route)
            for extra in variants:
                for actor in ACTORS:
                    with srv.counting() as seen:
                        r = srv.client.get(url_, params=query | extra, headers=w.headers(actor))
                    assert r.status_code < 500, f"GET {url_} {extra} as {actor}: {r.status_code} {r.text[:300]}"
                    if actor == "op":  # the operator may call every one of them: a real answer, not a refusal
                        assert r.status_code == 200, f"GET {url_} {extra}: {r.status_code} {r.text[:300]}"
                    writes = [x for x in seen if WRITE.match(x)]
                    assert not writes, f"GET {url_} {extra} as {actor} wrote: {writes}"
                    assert not [x for x in seen if x.strip().upper().startswith("BEGIN IMMEDIATE")], (url_, extra)
    finally:
        srv.close()

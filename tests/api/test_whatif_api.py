"""What-if runs over HTTP on SQLite and PostgreSQL: a run on the live fleet and its history, the
price change through the ledger, validation naming the field, the estimate refusal before anything
is written, progress and cancel, and a run of a killed process failed by the background pass."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.domain.whatif import HEARTBEAT_TTL_S
from suanli.service import accounts, whatif
from suanli.service.platform import Platform
from suanli.sim import whatif as sim_whatif
from suanli.store import whatif as store
from suanli.testing.clock import FakeClock

Http = tuple[TestClient, dict[str, str], Platform]


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}, demo


def wait_until(cond: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    """Wait for a condition of the worker thread (polls; fails after the deadline)."""
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def history(c: TestClient, op: dict[str, str], clock: FakeClock, n: int = 6, model: str = "L20") -> dict[str, str]:
    """A tenant's orders over the last day: n two-GPU leases of 3 hours, one every 2 hours."""
    r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
    assert r.status_code == 201, r.text
    t = {"Authorization": f"Bearer {r.json()['token']}"}
    for _ in range(n):
        r = c.post("/v1/orders", json={"form": "gpu", "quantity": 2, "models": [model], "hours": 3}, headers=t)
        assert r.status_code == 201, r.text
        clock.advance(hours=2)
    return t


def done(c: TestClient, op: dict[str, str], p: Platform, run_id: str) -> dict[str, Any]:
    whatif.runner(p).join(run_id, 120)
    r = c.get(f"/v1/whatif/{run_id}", headers=op)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_run_on_the_live_fleet_prices_through_the_ledger(http: Http, clock: FakeClock) -> None:
    c, op, p = http
    history(c, op, clock)
    r = c.post("/v1/whatif", json={"days": 1, "price_change_pct": "10"}, headers=op)
    assert r.status_code == 202, r.text
    assert r.json()["state"] in ("queued", "running", "done")
    run = done(c, op, p, r.json()["id"])
    assert run["state"] == "done" and Decimal(run["progress"]) == 1, run
    res = run["result"]
    base, changed, actual = res["baseline"], res["changed"], res["actual"]
    assert res["currency"] == "CNY"
    # today, from the records: 6 leases x 2 L20 x 3 h inside the last 24 h, the last one 1 h old at most
    assert Decimal(actual["device_hours"]) == Decimal(5 * 2 * 3 + 2 * 2)
    l20 = Decimal("2.60")  # the demo list price (domain/demo.py) of an L20 device-hour
    assert Decimal(actual["revenue_at_list"]) == Decimal(actual["device_hours"]) * l20
    # the simulated baseline replays those grants: revenue = its device-hours at list, through the ledger
    assert Decimal(base["device_hours"]) > 0
    assert abs(Decimal(base["revenue"]) - Decimal(base["device_hours"]) * l20) <= Decimal("0.05")
    assert Decimal(base["revenue"]) == Decimal(base["supplier_share"]) + Decimal(base["commission"])
    # +10 %, no demand response: the same time served, 10 % more revenue (each line rounded once)
    assert changed["device_hours"] == base["device_hours"]
    assert abs(Decimal(changed["revenue"]) - Decimal(base["revenue"]) * Decimal("1.1")) <= Decimal("0.05")
    assert run["params"]["price_change_pct"] == "10"
    listed = c.get("/v1/whatif", headers=op).json()
    assert [x["id"] for x in listed] == [run["id"]]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"policy": "magic"}, "policy", "allowed: "),
    ({"growth": "0"}, "growth", "> 0"),
    ({"growth": "101"}, "growth", "at most 100"),
    ({"price_change_pct": "-100"}, "price_change_pct", "above -100"),
    ({"price_models": ["Z99"]}, "price_models", "allowed: "),
    ({"add_nodes": [{"model": "H800", "count": 2, "site": "mars-1"}]}, "add_nodes[0].site", "sh-east-1"),
    ({"add_nodes": [{"model": "NoSuchGPU", "count": 2, "site": "sh-east-1"}]}, "add_nodes[0].model", "H800"),
    ({"remove_nodes": ["ghost-01"]}, "remove_nodes", "sh-h800-01"),
])
def test_bad_parameters_are_422_naming_the_field_and_nothing_is_written(http: Http, body: dict[str, Any], field: str,
                                                                        words: str) -> None:
    c, op, _ = http
    r = c.post("/v1/whatif", json=body, headers=op)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["details"].get("field") == field, err
    assert words in err["message"], err
    assert c.get("/v1/whatif", headers=op).json() == []


@pytest.mark.parametrize("body", [{"days": 0}, {"days": 91}, {"growth": 1.5}, {"nope": 1}, {"seed": -1},
                                  {"add_nodes": [{"model": "H800", "count": 0, "site": "sh-east-1"}]}])
def test_malformed_bodies_are_422(http: Http, body: dict[str, Any]) -> None:
    c, op, _ = http
    r = c.post("/v1/whatif", json=body, headers=op)
    assert r.status_code == 422, r.text
    assert c.get("/v1/whatif", headers=op).json() == []


def test_a_run_estimated_too_long_is_refused_before_it_starts(http: Http, clock: FakeClock) -> None:
    c, op, p = http
    history(c, op, clock, n=3)
    p.settings = replace(p.settings, whatif_max_seconds=0.001)
    r = c.post("/v1/whatif", json={"days": 1, "growth": "50"}, headers=op)
    assert r.status_code == 422, r.text
    msg = r.json()["error"]["message"]
    assert "would run about" in msg and "at most" in msg and "shorten the horizon" in msg, msg
    assert c.get("/v1/whatif", headers=op).json() == []


def test_progress_and_cancel_of_a_running_run(http: Http, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    c, op, p = http
    history(c, op, clock, n=12)
    p.settings = replace(p.settings, whatif_max_seconds=3600.0)
    # the real simulator, held after the first progress above 0 that the worker wrote, until the
    # cancel is asked: however fast the machine, the run is caught mid-way
    reported, release = threading.Event(), threading.Event()
    written: list[Decimal] = []
    simulate, beat = sim_whatif.run, store.heartbeat

    def recorded(s: Any, run_id: str, progress: Decimal, now: Any) -> Any:
        out = beat(s, run_id, progress, now)
        written.append(progress)
        return out

    def held(snap: Any, change: Any, seed: int, progress: Callable[[float], None], cancelled: Callable[[], bool]) -> Any:
        def step(x: float) -> None:
            progress(x)
            if written and 0 < written[-1] < 1 and not reported.is_set():
                reported.set()
                release.wait(120)
        return simulate(snap, change, seed, step, cancelled)

    # the worker writes progress at most every 0.2 s of its clock: until the run is held, that clock
    # leaps, so the first step above 0 is written however fast the simulator runs
    leaps = itertools.count(1)

    def monotonic() -> float:
        return time.monotonic() + (0.0 if reported.is_set() else 1e6 * next(leaps))

    monkeypatch.setattr(whatif, "time", SimpleNamespace(monotonic=monotonic))
    monkeypatch.setattr(store, "heartbeat", recorded)
    monkeypatch.setattr(whatif, "run", held)
    r = c.post("/v1/whatif", json={"days": 1, "growth": "100"}, headers=op)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert reported.wait(120), "the run never reported progress"
    x = c.get(f"/v1/whatif/{run_id}", headers=op).json()
    assert x["state"] == "running" and 0 < Decimal(x["progress"]) < 1, x
    r = c.post(f"/v1/whatif/{run_id}/cancel", headers=op)
    assert r.status_code == 200, r.text
    release.set()
    end = done(c, op, p, run_id)
    assert end["state"] == "cancelled" and end["result"] is None and Decimal(end["progress"]) < 1, end
    again = c.post(f"/v1/whatif/{run_id}/cancel", headers=op)
    assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]
    assert c.get("/v1/whatif/wif_nope", headers=op).status_code == 404


def test_a_run_of_a_killed_process_is_failed_by_the_background_pass(http: Http, clock: FakeClock) -> None:
    c, op, p = http
    now = clock.now()
    with p.tx() as s:  # a run that another replica started and then died with (it heartbeats no more)
        store.add_run(s, "wif_dead", {"days": 1}, Decimal(1), "op", now, "r-gone")
        assert store.start(s, "wif_dead", now, "r-gone")
    r = c.post("/v1/engine/reconcile", headers=op)
    assert r.status_code == 200, r.text
    assert c.get("/v1/whatif/wif_dead", headers=op).json()["state"] == "running"  # heard of within the TTL
    clock.advance(seconds=HEARTBEAT_TTL_S + 1)
    assert c.get("/v1/whatif/wif_dead", headers=op).json()["state"] == "running"  # reads never write
    r = c.post("/v1/engine/reconcile", headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["whatif_failed"] == ["wif_dead"]
    dead = c.get("/v1/whatif/wif_dead", headers=op).json()
    assert dead["state"] == "failed" and "stopped" in dead["error"], dead
    assert dead["finished_at"] is not None and timedelta(0) <= clock.now() - now


def test_payback_uses_the_investment_inputs(http: Http, clock: FakeClock) -> None:
    from suanli.domain.demo import demo_fleet, demo_investment

    c, op, p = http
    history(c, op, clock, model="H800")  # H800 at sh-east-1: commission above the energy cost
    first = done(c, op, p, c.post("/v1/whatif", json={"days": 1}, headers=op).json()["id"])
    assert first["result"]["baseline"]["payback_years"] is None  # no investment inputs yet
    r = c.put("/v1/economics/inputs", json=demo_investment(demo_fleet()), headers=op)
    assert r.status_code == 200, r.text
    run = done(c, op, p, c.post("/v1/whatif", json={"days": 1, "growth": "3"}, headers=op).json()["id"])
    base, changed = run["result"]["baseline"], run["result"]["changed"]
    assert run["state"] == "done", run
    # more demand, same fleet and inputs: more margin, and a payback no longer (when there is one)
    assert Decimal(changed["margin"]) > Decimal(base["margin"])  # H800 commission above its added power
    assert base["payback_years"] is None or Decimal(changed["payback_years"]) <= Decimal(base["payback_years"])


def test_a_trace_replaces_the_order_history(http: Http, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    c, op, p = http
    r = c.post("/v1/whatif", json={"trace": "philly"}, headers=op)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "trace", r.text
    monkeypatch.setenv("SUANLI_TRACE_DIR", str(tmp_path / "none"))
    r = c.post("/v1/whatif", json={"trace": "openb"}, headers=op)
    assert r.status_code == 422 and "SUANLI_TRACE_DIR" in r.json()["error"]["message"], r.text
    (tmp_path / "t" / "csv").mkdir(parents=True)
    # 30 pods over the trace's last day (one CPU-only, left out), and one older than the window
    rows = [f"p{i},1000,{1 + i % 2},1000,{86400 * 9 + i * 2880},{86400 * 9 + i * 2880 + 3600}" for i in range(30)]
    rows += ["cpu,4000,0,0,864000,867600", "old,1000,1,1000,0,3600"]
    (tmp_path / "t" / "csv" / "openb_pod_list_default.csv").write_text(
        "name,cpu_milli,num_gpu,gpu_milli,creation_time,deletion_time\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv("SUANLI_TRACE_DIR", str(tmp_path / "t"))
    r = c.post("/v1/whatif", json={"trace": "openb", "days": 1}, headers=op)
    assert r.status_code == 202, r.text
    run = done(c, op, p, r.json()["id"])
    assert run["state"] == "done" and run["params"]["trace"] == "openb", run
    base = run["result"]["baseline"]
    assert base["orders"] == 30  # the fleet has no orders of its own: these are the trace's
    # each pod of 1 or 2 GPUs for an hour, on any model; the window is the last day up to the newest pod
    # (the CPU-only one, at day 10): the 30th pod arrives 0.8 h before the horizon ends (2 GPUs)
    assert Decimal(base["device_hours"]) == 15 * 1 + 14 * 2 + Decimal("0.8") * 2 and Decimal(base["revenue"]) > 0


def test_model_names_are_read_as_the_catalog_reads_them(http: Http) -> None:
    c, op, p = http
    r = c.post("/v1/whatif", json={"days": 1, "add_nodes": [{"model": "h800", "count": 1, "site": "sh-east-1"}],
                                   "price_models": ["rtx4090"], "price_change_pct": "5"}, headers=op)
    assert r.status_code == 202, r.text
    assert r.json()["params"]["add_nodes"][0]["model"] == "H800" and r.json()["params"]["price_models"] == ["RTX-4090"]
    assert done(c, op, p, r.json()["id"])["state"] == "done"

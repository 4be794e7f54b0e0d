"""Concurrent tenants against a real HTTP server: no device share is ever granted twice.

Runs on SQLite and on the real PostgreSQL that scripts/test starts. The server is uvicorn in a
background thread (its sync endpoints run on a thread pool, so orders really overlap); clients
are plain httpx in threads. Demand is well over capacity so that grants race for devices.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from suanli.api.app import create_app
from suanli.domain.capacity import max_load_per_device
from suanli.domain.clock import SystemClock
from suanli.domain.demo import demo_fleet
from suanli.service import accounts, fleet
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.store.tables import AllocationRow, DeviceRow, LeaseRow, NodeRow, OrderRow
from suanli.testing.fake_nvidia_smi import declared_tools
from suanli.testing.serve import free_port


@pytest.fixture
def live_server(db_url: str | None, tmp_path: Path):  # type: ignore[no-untyped-def]
    # the slices below need a node that enforces them: the operator's declaration with stand-in tools (not GPUs)
    p = Platform(Settings(data_dir=tmp_path / "d", database_url=db_url, **declared_tools(tmp_path / "smi")),
                 clock=SystemClock())
    token = accounts.bootstrap_operator(p)
    assert token
    fleet.import_fleet(p, accounts.authenticate(p, token), demo_fleet())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(p), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:  # bounded wait for the server to answer, not a fixed sleep
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.05)
    yield p, url, token
    server.should_exit = True
    thread.join(10)
    p.close()


SHAPES = [
    {"form": "gpu", "quantity": 3, "models": ["H800"]},
    {"form": "gpu", "quantity": 1, "models": ["H800"]},
    {"form": "gpu", "quantity": 2, "models": ["H800"]},
    {"form": "slice", "share_pct": 30, "memory_mib": 4096, "models": ["L20"]},
    {"form": "slice", "share_pct": 45, "memory_mib": 4096, "models": ["L20"]},
    {"form": "server", "models": ["A800"]},
]


def test_concurrent_orders_never_share_a_device(live_server) -> None:  # type: ignore[no-untyped-def]
    p, url, op_token = live_server
    tenants = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {op_token}"}) as c:
        for i in range(24):
            r = c.post("/v1/accounts", json={"name": f"t{i}", "role": "tenant"})
            assert r.status_code == 201, r.text
            tenants.append(r.json()["token"])

    def work(i: int) -> list[tuple[int, str]]:
        out = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tenants[i]}"}, timeout=60) as c:
            for j in range(4):
                r = c.post("/v1/orders", json=SHAPES[(i + j) % len(SHAPES)])
                out.append((r.status_code, r.json().get("lease_id") or r.json()["error"]["code"]))
        return out

    with ThreadPoolExecutor(len(tenants)) as pool:
        results = [x for chunk in pool.map(work, range(len(tenants))) for x in chunk]
    codes = defaultdict(int)
    for status, _ in results:
        codes[status] += 1
    assert set(codes) <= {201, 409}, codes
    assert codes[201] > 0 and codes[409] > 0  # demand exceeded capacity, so grants really raced
    assert all(what == "no_capacity" for status, what in results if status == 409)

    with p.tx() as s:
        rows = s.execute(select(AllocationRow.device_id, AllocationRow.milli, NodeRow.model)
                         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
                         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
                         .join(NodeRow, NodeRow.id == DeviceRow.node_id)
                         .where(LeaseRow.state == "active")).all()
    per_device: dict[int, int] = defaultdict(int)
    for device_id, milli, _model in rows:
        per_device[device_id] += milli
    assert max(per_device.values()) <= 1000
    granted = {lid for status, lid in results if status == 201}
    with p.tx() as s:
        assert set(s.scalars(select(LeaseRow.id).where(LeaseRow.state == "active"))) == granted
    h800 = sum(1 for d, _m, model in rows if model == "H800")
    assert h800 <= 32


def recorded(p: Platform) -> tuple[dict[int, int], list[tuple[str, object, object]], set[str]]:
    """(highest load per device over all recorded windows, (lease, allocation start, order arrival)
    per allocation, leases with at least one allocation record)."""
    with p.tx() as s:
        rows = s.execute(select(AllocationRow.device_id, AllocationRow.start_at, AllocationRow.end_at,
                                AllocationRow.milli, AllocationRow.lease_id, OrderRow.created_at)
                         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
                         .join(OrderRow, OrderRow.id == LeaseRow.order_id)
                         .where(AllocationRow.drawn_from.is_(None))).all()
    loads = max_load_per_device((d, a, b, m) for d, a, b, m, _l, _c in rows)
    return loads, [(lease, a, c) for _d, a, _b, _m, lease, c in rows], {r[4] for r in rows}


def test_concurrent_order_and_end_records_only_granted_time(live_server) -> None:  # type: ignore[no-untyped-def]
    """Tenants loop "order a slice, end it" at once: grants race and retry. What is recorded never
    loads a device beyond its capacity at any instant, no allocation starts before its order
    arrived, and every granted lease keeps its record (even one ended in the second it began)."""
    p, url, op_token = live_server
    tenants = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {op_token}"}) as c:
        for i in range(16):
            r = c.post("/v1/accounts", json={"name": f"loop{i}", "role": "tenant"})
            assert r.status_code == 201, r.text
            tenants.append(r.json()["token"])

    def work(i: int) -> list[str]:
        granted = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tenants[i]}"}, timeout=120) as c:
            for _ in range(4):
                r = c.post("/v1/orders", json={"form": "slice", "share_pct": 30, "memory_mib": 1024,
                                               "models": ["L20"], "sites": ["sz-edge-1"]})
                assert r.status_code in (201, 409), r.text
                if r.status_code == 201:
                    granted.append(r.json()["lease_id"])
                    assert c.post(f"/v1/leases/{granted[-1]}/end", json={}).status_code == 200
        return granted

    with ThreadPoolExecutor(len(tenants)) as pool:
        granted = [x for chunk in pool.map(work, range(len(tenants))) for x in chunk]
    assert granted
    loads, starts, with_record = recorded(p)
    assert max(loads.values()) <= 1000, {d: v for d, v in loads.items() if v > 1000}
    assert [x for x in starts if x[1] < x[2]] == []  # (lease, start, arrival): none before arrival
    assert set(granted) <= with_record

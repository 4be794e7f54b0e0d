"""``suanli bench reads``: the latency of ``GET /v1/leases`` (a page of 50) on a real server.

A fresh ``suanli serve --demo`` on SQLite (``--database-url`` for PostgreSQL, ``--server`` with an
operator ``--token`` for a running one); a new tenant orders ``--leases`` leases (fixed terms of
slices, some with several allocations); then ``--requests`` sequential ``GET /v1/leases?limit=50``
on one keep-alive connection, as the tenant and as the operator, after ``--warmup`` unmeasured
ones. Prints p50/p90/p99/max in milliseconds, requests/s, the server's CPU time per request and
its resident memory idle (before the leases) and after the reads (a server started here, or
``--pid`` of a ``--server`` on this machine: from ``/proc``). On a busy machine the latency
percentiles carry the wait for a core; the CPU per request does not.

Client-side time from the request's first byte written to its last byte read, with the raw
asyncio client of :mod:`suanli.cli.loadgen` (~65 µs of client CPU per request), so the figure is
the server's plus the loopback's. Target (../shared/BENCHMARKS.md): p50 ≤ 3 ms on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from suanli.cli.bench_money import DbOpt, JsonOut, ServerOpt, TokenOpt, throwaway_database
from suanli.cli.context import state
from suanli.cli.loadgen import Pool
from suanli.cli.render import fail, print_json, show, table
from suanli.client import SuanliClient
from suanli.testing.serve import UNLIMITED, ServeFailed, clean_env, serving


@contextmanager
def _server(server: str | None, token: str | None, database_url: str | None
            ) -> Iterator[tuple[str, str, int | None, str]]:
    """(url, operator token, server PID when started here, database)."""
    if server:
        if not token:
            fail("--server needs --token (an operator token)")
        yield server, token, None, "?"
        return
    with tempfile.TemporaryDirectory(prefix="suanli-bench-reads-") as tmp:
        try:
            if database_url:
                with throwaway_database(database_url) as db, \
                        serving(Path(tmp), database_url=db, env=clean_env(**UNLIMITED)) as srv:
                    yield srv.url, srv.tokens()["operator"], srv.proc.pid, "postgresql"
                return
            with serving(Path(tmp), env=clean_env(**UNLIMITED)) as srv:
                yield srv.url, srv.tokens()["operator"], srv.proc.pid, "sqlite"
        except ServeFailed as e:
            fail(str(e))


def rss_mib(pid: int | None) -> float | None:
    """Resident memory of a local process in MiB (``None``: not a process of this machine)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds a local process has used so far (``None``: not readable)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(ms: list[float]) -> dict[str, float]:
    xs = sorted(ms)

    def at(q: float) -> float:
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(xs[-1], 3)}


async def measure(url: str, token: str, path: str, requests: int, warmup: int, pid: int | None) -> dict[str, Any]:
    """``requests`` sequential GETs on one keep-alive connection, after ``warmup`` unmeasured ones;
    with the server's ``pid``, also its CPU time per measured request (robust to a busy machine)."""
    pool = Pool(url)
    await pool.warm(1)
    times: list[float] = []
    items = 0
    cpu0: float | None = None
    try:
        for i in range(warmup + requests):
            if i == warmup:
                cpu0 = cpu_s(pid)
            t0 = time.perf_counter()
            status, body = await pool.call("GET", path, token)
            dt = (time.perf_counter() - t0) * 1000
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            if i >= warmup:
                times.append(dt)
            if i == 0:
                items = len(json.loads(body)["items"])
    finally:
        pool.close()
    cpu1 = cpu_s(pid)
    wall = sum(times) / 1000
    cpu_ms = None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) * 1000 / requests, 2)
    return {"items": items, "requests": requests, **percentiles(times), "per_s": round(requests / wall, 1),
            "server_cpu_ms": cpu_ms}


def reads(ctx: typer.Context, server: ServerOpt = None, token: TokenOpt = None, database_url: DbOpt = None,
          leases: Annotated[int, typer.Option(min=1, max=1000, help="Leases the tenant orders first.")] = 60,
          requests: Annotated[int, typer.Option(min=10, help="Measured requests per caller.")] = 1000,
          warmup: Annotated[int, typer.Option(min=0, help="Unmeasured requests first, per caller.")] = 100,
          limit: Annotated[int, typer.Option(min=1, max=500, help="Page size.")] = 50,
          pid: Annotated[int | None, typer.Option("--pid", help="With --server on this machine: its process id, "
                                                  "for its CPU time per request and memory.")] = None,
          as_json: JsonOut = False) -> None:
    """GET /v1/leases latency (p50/p90/p99, one keep-alive connection) for a tenant and the operator, and server RSS."""
    st = state(ctx)
    server, token = server or st.server, token or st.token
    with _server(server, token, database_url) as (url, op, started, database):
        pid = started or pid
        idle = rss_mib(pid)
        with SuanliClient(url, op) as api:
            tenant = api.create_account(f"bench-reads-{uuid.uuid4().hex[:6]}", "tenant").token
        with SuanliClient(url, tenant) as api:
            for i in range(leases):
                api.create_order(form="slice", share_pct=10, memory_mib=1024, hours=24 + i)
        path = f"/v1/leases?limit={limit}"
        result: dict[str, Any] = {"database": database, "server": "started here" if started else url,
                                  "leases": leases, "page": limit, "cpus": os.cpu_count()}
        result["tenant"] = asyncio.run(measure(url, tenant, path, requests, warmup, pid))
        result["operator"] = asyncio.run(measure(url, op, path, requests, warmup, pid))
        result["rss_mib"] = {"idle": idle, "after": rss_mib(pid)}
    if as_json:
        print_json(result)
        return
    head = [["database", result["database"]], ["server", result["server"]],
            ["request", f"GET {path} ({result['leases']} leases of the tenant; sequential, one keep-alive connection)"]]
    show(table("bench reads", ["", ""], head))
    rows = [[who, str(r["items"]), str(r["requests"]), f"{r['p50']:.2f}", f"{r['p90']:.2f}", f"{r['p99']:.2f}",
             f"{r['max']:.2f}", f"{r['per_s']:g}", "-" if r["server_cpu_ms"] is None else f"{r['server_cpu_ms']:.2f}"]
            for who, r in (("tenant", result["tenant"]), ("operator", result["operator"]))]
    show(table("GET /v1/leases (ms)", ["caller", "items", "requests", "p50", "p90", "p99", "max", "req/s",
                                       "server CPU/req"], rows))
    rss = result["rss_mib"]
    if rss["idle"] is not None:
        show(table("server memory", ["", "MiB"], [["RSS idle", f"{rss['idle']:.0f}"],
                                                  ["RSS after the reads", f"{rss['after']:.0f}"]]))


def mount(bench_app: typer.Typer) -> None:
    bench_app.command("reads")(reads)

"""``suanli bench orders``: tenants ordering against a real server, closed and open loop, and what was recorded.

Two measurements, apart (in a closed loop latency is clients ÷ throughput, Little's law):

- **closed loop** (throughput): ``clients`` new tenants, one keep-alive connection each, each loops
  ``rounds`` times "order a slice, end it" with no pause (``--hold`` keeps the leases instead: demand
  then exceeds the fleet and grants race for the last devices). Granted orders/s, order latency.
- **open loop** (latency): orders arrive at random, a Poisson process of ``rate`` orders/s overall
  (exponential gaps from a seeded RNG) for ``duration`` seconds, each from one of the same tenants,
  each **sent on schedule whether or not earlier ones returned** (a connection pool that grows to
  the backlog); each granted lease is then ended. Order→lease latency is measured **from the
  scheduled send time**, so a generator that falls behind cannot hide the queueing (coordinated
  omission); late sends (more than :data:`LATE_MS` after their time) are counted.

Both report refusals by status and code, the generator's own CPU (its process time ÷ wall; it
must not be the bottleneck: :mod:`suanli.cli.loadgen`) and, for a server started here, the
server's CPU. Then every lease is read back as the operator and checked against the rule the
database enforces (docs/platform.md "Recorded time is granted time"):

- ``max_overlap_milli``: the highest load any device ever had, over all recorded allocation
  windows (1000 = one whole device; above is a device granted beyond its capacity);
- ``starts_before_arrival``: allocations recorded as starting before their order arrived;
- ``granted_without_record``: granted leases with no allocation record at all.

The server: a fresh ``suanli serve --demo`` on a throwaway PostgreSQL database (as ``bench ingest``),
on SQLite with ``--sqlite``, or ``--server`` with an operator ``--token``. ``--replicas N`` (PostgreSQL,
a server started here): N ``suanli serve --reuse-port`` processes on one port and one database (docs/
platform.md "Replicas"; the kernel spreads the generator's connections among them); the server CPU is
summed over all of them (and given per replica). ``--profile PATH`` records the started server with
py-spy during the closed loop (speedscope JSON); with replicas, each one into ``PATH`` with ``-r<i>``
before the suffix.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from suanli.cli.bench_money import DbOpt, JsonOut, ServerOpt, TokenOpt, throwaway_database
from suanli.cli.context import state
from suanli.cli.loadgen import Pool, TransportError
from suanli.cli.render import fail, info, print_json, show, table
from suanli.client import SuanliClient
from suanli.domain.capacity import DEVICE_MILLI, max_load_per_device
from suanli.testing.serve import (
    UNLIMITED,
    ServeFailed,
    ServeProcess,
    clean_env,
    free_port,
    serving,
    start_serve,
)

LATE_MS = 5.0
"""An open-loop order sent more than this after its scheduled time counts as a late send."""


READY_S = 120.0
"""How long the servers started here may take to answer (migrations, the demo, on a loaded machine)."""


def _all_listening(started: list[ServeProcess], deadline_s: float) -> None:
    """Ask ``/health`` on a new connection each time until every replica id has answered; a replica that
    exits, or a deadline passed, raises :class:`ServeFailed`."""
    seen: set[str] = set()
    end = time.monotonic() + deadline_s
    while len(seen) < len(started):
        for srv in started:
            if srv.proc.poll() is not None:
                raise ServeFailed(f"a replica exited with {srv.proc.returncode}:\n{srv.log.read_text()[-4000:]}")
        with suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            seen.add(str(httpx.get(f"{started[0].url}/health", timeout=5).json()["background"]["replica"]))
        if time.monotonic() > end:
            raise ServeFailed(f"{len(seen)} of {len(started)} replicas answered on {started[0].url} within "
                              f"{deadline_s:g} s")
        time.sleep(0.02)  # polling real processes for readiness, bounded by the deadline above


@contextmanager
def _replicas(data_dir: Path, database_url: str, n: int) -> Iterator[list[ServeProcess]]:
    """``n`` ``suanli serve --reuse-port`` processes on one free port and one database (each with a data
    directory of its own), started one after the other (the first migrates and loads the demo); all
    stopped on the way out, whatever happened. Yields only once every replica answers on the shared
    port: a later replica's ``/health`` may be answered by an earlier one, and connections opened
    before a replica listens all go to the others (and keep-alive keeps them there)."""
    port, started = free_port(), []
    try:
        for i in range(n):
            started.append(start_serve(data_dir / f"r{i}", database_url=database_url, env=clean_env(**UNLIMITED),
                                       port=port, extra_args=["--reuse-port"], deadline_s=READY_S))
        _all_listening(started, READY_S)
        yield started
    finally:
        for srv in started:
            srv.stop()


@contextmanager
def _server(server: str | None, token: str | None, database_url: str | None, sqlite: bool, replicas: int = 1
            ) -> Iterator[tuple[str, str, list[int]]]:
    """(url, operator token, the PIDs of the server processes started here: none for ``--server``)."""
    if server:
        if not token:
            fail("--server needs --token (an operator token)")
        yield server, token, []
        return
    with tempfile.TemporaryDirectory(prefix="suanli-bench-") as tmp:
        try:
            if sqlite:
                with serving(Path(tmp), env=clean_env(**UNLIMITED)) as srv:  # the load is the point
                    yield srv.url, srv.tokens()["operator"], [srv.proc.pid]
                return
            url_db = (database_url or os.environ.get("SUANLI_DATABASE_URL")
                      or os.environ.get("SUANLI_TEST_POSTGRES_URL"))
            if not url_db:
                fail("no PostgreSQL: give --database-url (or set SUANLI_DATABASE_URL), or use --sqlite")
            if replicas > 1:
                with throwaway_database(url_db) as bench_db, _replicas(Path(tmp), bench_db, replicas) as srvs:
                    yield srvs[0].url, srvs[0].tokens()["operator"], [s.proc.pid for s in srvs]
                return
            with throwaway_database(url_db) as bench_db, \
                    serving(Path(tmp), database_url=bench_db, env=clean_env(**UNLIMITED)) as srv:
                yield srv.url, srv.tokens()["operator"], [srv.proc.pid]
        except ServeFailed as e:
            fail(str(e))


def recorded_overlap(url: str, token: str) -> dict[str, Any]:
    """Every lease and order read back as the operator: the checks of the module docstring."""
    with SuanliClient(url, token) as api:
        leases = list(api.iter_leases(page_size=500))
        arrival = {o.lease_id: o.created_at for o in api.iter_orders(page_size=500) if o.lease_id}
    rows = [((a.node, a.device), a.start, a.end, a.milli) for x in leases for a in x.allocations]
    loads = max_load_per_device(rows)
    early = sum(1 for x in leases for a in x.allocations if x.id in arrival and a.start < arrival[x.id])
    granted = [x for x in leases if x.state not in ("rejected",)]
    return {"leases": len(leases), "allocations": len(rows), "devices_used": len(loads),
            "max_overlap_milli": max(loads.values(), default=0),
            "devices_over_capacity": sum(1 for v in loads.values() if v > DEVICE_MILLI),
            "starts_before_arrival": early,
            "granted_without_record": sum(1 for x in granted if not x.allocations)}


# -- measuring ----------------------------------------------------------------------------------

def _cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc; ``None`` if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


Sample = tuple[int, str, float]
"""(HTTP status or 0 for a transport failure, outcome code, order latency in seconds)."""
End = tuple[int, str, float]
"""(HTTP status of ``POST /v1/leases/{id}/end`` or 0 for a transport failure or timeout, its error code
(``ended`` when it succeeded), seconds)."""


def _ms(values: list[float]) -> dict[str, float | None]:
    """p50/p90/p99/max of seconds, in milliseconds (nearest rank); ``None`` for an empty list."""
    xs = sorted(values)

    def rank(q: float) -> float | None:
        return round(xs[min(len(xs) - 1, max(0, int(len(xs) * q + 0.999999) - 1))] * 1000, 1) if xs else None

    return {"p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99), "max": rank(1.0)}


async def _order(pool: Pool, token: str, body: bytes, timeout_s: float, hold: bool, ends: list[End],
                 since: float) -> Sample:
    """POST one order; end its lease unless held (the end is timed into ``ends``). The sample's
    latency runs from ``since`` (the event loop's clock) to the order's answer."""
    clock = asyncio.get_running_loop().time
    try:
        status, data = await asyncio.wait_for(pool.call("POST", "/v1/orders", token, body), timeout_s)
    except TimeoutError:
        return 0, "timeout", clock() - since
    except TransportError:
        return 0, "transport_error", clock() - since
    latency = clock() - since
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {}
    if status != 201:
        return status, str((doc.get("error") or {}).get("code", "?")) if isinstance(doc, dict) else "?", latency
    if not hold and doc.get("lease_id"):
        t0 = time.perf_counter()
        try:
            end_status, end_data = await asyncio.wait_for(
                pool.call("POST", f"/v1/leases/{doc['lease_id']}/end", token, b"{}"), timeout_s)
            end_code = "ended" if end_status == 200 else _error_code(end_data)
        except TimeoutError:
            end_status, end_code = 0, "timeout"
        except TransportError:
            end_status, end_code = 0, "transport_error"
        ends.append((end_status, end_code, time.perf_counter() - t0))
    return 201, "granted", latency


async def _measured(pids: list[int], run: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """``run()``'s figures plus wall time, the generator's CPU and the server's: summed over the server
    processes (% of one core: 150 is one and a half cores), per process, and per granted order (its
    order and end, ms of server CPU); ``None`` where unknown (no server started here)."""
    c0, s0, t0 = time.process_time(), [_cpu_s(p) for p in pids], time.perf_counter()
    out = await run()
    wall = time.perf_counter() - t0
    cpu, s1 = time.process_time() - c0, [_cpu_s(p) for p in pids]
    used = [b - a for a, b in zip(s0, s1, strict=True) if a is not None and b is not None]
    known = bool(pids) and len(used) == len(pids)
    out["wall_s"] = round(wall, 2)
    out["generator_cpu_pct"] = round(100 * cpu / wall, 1)
    out["server_cpu_pct"] = round(100 * sum(used) / wall, 1) if known else None
    out["server_cpu_pct_by_replica"] = [round(100 * u / wall, 1) for u in used] if known else None
    out["server_cpu_ms_per_grant"] = (round(1000 * sum(used) / out["granted"], 2) if known and out.get("granted")
                                      else None)
    return out


def _summary(samples: list[Sample], ends: list[End], wall: float) -> dict[str, Any]:
    granted = sum(1 for s, _, _ in samples if s == 201)
    return {"orders": len(samples), "granted": granted, "granted_per_s": round(granted / wall, 1) if wall else 0.0,
            "outcomes": dict(Counter(f"{s} {c}" for s, c, _ in samples)),
            "latency_ms": _ms([dt for s, _, dt in samples if s == 201]),
            "end_latency_ms": _ms([dt for s, _, dt in ends if s == 200]),
            "ends_failed": sum(1 for s, _, _ in ends if s != 200),
            "end_failures": dict(Counter(f"{s} {c}" for s, c, _ in ends if s != 200))}


def _error_code(data: bytes) -> str:
    """The ``error.code`` of an error answer's body ("?" when it has none)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return "?"
    return str((doc.get("error") or {}).get("code", "?")) if isinstance(doc, dict) else "?"


async def closed_loop(url: str, tokens: list[str], rounds: int, body: bytes, hold: bool, timeout_s: float,
                      pids: list[int]) -> dict[str, Any]:
    pool = Pool(url)
    await pool.warm(len(tokens))
    samples: list[Sample] = []
    ends: list[End] = []

    async def tenant(token: str) -> None:
        clock = asyncio.get_running_loop().time
        for _ in range(rounds):
            samples.append(await _order(pool, token, body, timeout_s, hold, ends, clock()))  # the end timed apart

    async def run() -> dict[str, Any]:
        t0 = time.perf_counter()
        await asyncio.gather(*(tenant(t) for t in tokens))
        return _summary(samples, ends, time.perf_counter() - t0)

    try:
        out = await _measured(pids, run)
    finally:
        pool.close()
    return {"clients": len(tokens), "rounds": rounds, **out}


async def open_loop(url: str, tokens: list[str], rate: float, duration_s: float, seed: int, body: bytes,
                    timeout_s: float, pids: list[int]) -> dict[str, Any]:
    rng = random.Random(seed)
    arrivals: list[tuple[float, str]] = []  # (offset from the start in s, tenant token)
    t = rng.expovariate(rate)
    while t < duration_s:
        arrivals.append((t, tokens[rng.randrange(len(tokens))]))
        t += rng.expovariate(rate)
    pool = Pool(url)
    await pool.warm(min(len(tokens), max(1, int(rate * 0.1))))
    samples: list[Sample] = []
    ends: list[End] = []
    lags: list[float] = []
    loop = asyncio.get_running_loop()

    async def one(at: float, token: str) -> None:
        lags.append(loop.time() - at)
        samples.append(await _order(pool, token, body, timeout_s, False, ends, at))  # from the scheduled send

    async def run() -> dict[str, Any]:
        start = loop.time()
        tasks = []
        for offset, token in arrivals:
            at = start + offset
            if at > loop.time():
                await asyncio.sleep(at - loop.time())
            tasks.append(asyncio.create_task(one(at, token)))
        await asyncio.gather(*tasks)
        return _summary(samples, ends, loop.time() - start)

    try:
        out = await _measured(pids, run)
    finally:
        pool.close()
    late = [x for x in lags if x * 1000 > LATE_MS]
    return {"rate_per_s": rate, "duration_s": duration_s, "seed": seed, **out,
            "late_sends": len(late), "max_send_lag_ms": round(max(lags, default=0.0) * 1000, 1),
            "connections_opened": pool.opened, "most_connections": pool.most_open}


# -- profiling ----------------------------------------------------------------------------------

@contextmanager
def _profiled(pid: int | None, path: Path | None, gil: bool = False) -> Iterator[None]:
    """py-spy records ``pid`` while the block runs (speedscope JSON at ``path``; with ``gil`` only the
    thread holding the GIL: where the CPU goes, not where threads wait); nothing without a path."""
    if path is None:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if pid is None or not Path(exe).exists():
        fail("--profile needs py-spy (pip install py-spy) and a server started here (not --server)")
    proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "speedscope", "--rate", "200",
                             "--output", str(path), *(["--gil"] if gil else [])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            err = b""
        if proc.returncode not in (0, -signal.SIGINT) and not path.exists():
            info(f"py-spy did not write a profile: {err.decode(errors='replace')[-500:]}")


def profile_paths(path: Path | None, replicas: int) -> list[Path]:
    """Where ``--profile PATH`` writes: PATH for one server, ``<stem>-r<i><suffix>`` per replica."""
    if path is None:
        return []
    return [path] if replicas == 1 else [path.with_name(f"{path.stem}-r{i}{path.suffix}") for i in range(replicas)]


@contextmanager
def _profiled_all(pids: list[int], paths: list[Path], gil: bool) -> Iterator[None]:
    """:func:`_profiled` on every server process at once (one py-spy each); nothing without paths."""
    if not paths:
        yield
        return
    if not pids:
        fail("--profile needs py-spy (pip install py-spy) and a server started here (not --server)")
    with ExitStack() as stack:
        for pid, path in zip(pids, paths, strict=True):
            stack.enter_context(_profiled(pid, path, gil))
        yield


# -- the command ----------------------------------------------------------------------------------

def orders(ctx: typer.Context, server: ServerOpt = None, token: TokenOpt = None, database_url: DbOpt = None,
           sqlite: Annotated[bool, typer.Option("--sqlite", help="Start the server on SQLite instead.")] = False,
           clients: Annotated[int, typer.Option(min=1, help="Tenants (closed loop: one connection each; the open "
                                                "loop's orders come from them too).")] = 100,
           rounds: Annotated[int, typer.Option(min=0, help="Closed loop: orders per tenant (0: no closed loop).")]
           = 5,
           rate: Annotated[float, typer.Option(min=0, help="Open loop: Poisson arrivals, orders/s overall "
                                               "(0: no open loop).")] = 200.0,
           duration: Annotated[float, typer.Option(min=0.1, help="Open loop: seconds of arrivals.")] = 10.0,
           seed: Annotated[int, typer.Option(help="Open loop: seed of the arrival times and tenants.")] = 1,
           share: Annotated[int, typer.Option(min=1, max=100, help="Slice size in percent of one device.")] = 10,
           memory_mib: Annotated[int, typer.Option(min=1, help="Slice memory in MiB.")] = 1024,
           hold: Annotated[bool, typer.Option("--hold", help="Closed loop: keep the leases (do not end them).")]
           = False,
           timeout: Annotated[float, typer.Option(min=1, help="Seconds an order may take before it counts as "
                                                  "a timeout.")] = 120.0,
           profile: Annotated[Path | None, typer.Option("--profile", help="Record the server started here with "
                                                        "py-spy during the closed loop (speedscope JSON).")] = None,
           profile_gil: Annotated[bool, typer.Option("--profile-gil", help="With --profile: sample only the thread "
                                                     "holding the GIL (CPU, not waits).")] = False,
           replicas: Annotated[int, typer.Option(min=1, help="Server processes started here on one port and one "
                                                 "PostgreSQL database (`suanli serve --reuse-port`); the server CPU "
                                                 "is their sum; --profile writes one file each (out.json: out-r0.json, "
                                                 "out-r1.json, ...).")] = 1,
           as_json: JsonOut = False) -> None:
    """Granted orders/s (closed loop) and order latency at Poisson arrivals (open loop) of concurrent tenants, and the highest recorded load of any device."""
    st = state(ctx)  # the root takes --server/--token wherever they are written
    server, token = server or st.server, token or st.token
    if replicas > 1 and sqlite:
        raise typer.BadParameter("replicas share one PostgreSQL database; a SQLite file is one process's "
                                 "(drop --sqlite, or use --replicas 1)", param_hint="--replicas")
    if replicas > 1 and server:
        raise typer.BadParameter("the bench starts replicas only for a server it starts; with --server, run "
                                 "your replicas behind that address yourself", param_hint="--replicas")
    run_id = uuid.uuid4().hex[:6]
    spec = {"form": "slice", "share_pct": share, "memory_mib": memory_mib}
    body = json.dumps(spec).encode()
    with _server(server, token, database_url, sqlite, replicas) as (url, op, pids):
        with SuanliClient(url, op) as api:
            tokens = [api.create_account(f"bench-{run_id}-{i}", "tenant").token for i in range(clients)]
            dialect = api.health().get("database", "?")
            nodes = api.nodes()
        by_model: Counter[str] = Counter()
        for n in nodes:
            by_model[n.model] += n.devices
        result: dict[str, Any] = {
            "database": dialect, "server": "started here" if pids else url, "replicas": len(pids) or None,
            "tenants": clients,
            "fleet": {"nodes": len(nodes), "devices": sum(by_model.values()), "by_model": dict(by_model)},
            "mix": {f"slice {share} % {memory_mib} MiB": 1.0}}
        if rounds:
            paths = profile_paths(profile, len(pids) or 1)
            with _profiled_all(pids, paths, profile_gil):
                result["closed"] = asyncio.run(closed_loop(url, tokens, rounds, body, hold, timeout, pids))
            if paths:
                result["profiles"] = [str(x) for x in paths]
        if rate:
            result["open"] = asyncio.run(open_loop(url, tokens, rate, duration, seed, body, timeout, pids))
        result["recorded"] = recorded_overlap(url, op)
    if as_json:
        print_json(result)
        return
    _show(result, hold)


def _show(r: dict[str, Any], hold: bool) -> None:
    fleet = r["fleet"]
    models = ", ".join(f"{m} {n}" for m, n in sorted(fleet["by_model"].items()))
    head = [["database", r["database"]], ["server", r["server"]],
            ["replicas", "-" if r["replicas"] is None else str(r["replicas"])], ["tenants", str(r["tenants"])],
            ["fleet", f"{fleet['nodes']} nodes, {fleet['devices']} devices ({models})"],
            ["mix", ", ".join(f"{k}: {v:.0%}" for k, v in r["mix"].items())]]
    show(table("bench orders", ["", ""], head))
    rows: list[list[str]] = []

    def pct(d: dict[str, float | None]) -> str:
        return " / ".join("-" if d[k] is None else f"{d[k]:g}" for k in ("p50", "p90", "p99", "max"))

    for name, label in (("closed", "closed loop"), ("open", "open loop")):
        x = r.get(name)
        if not x:
            continue
        what = (f"{x['clients']} clients x {x['rounds']}, no pause{', held' if hold else ''}" if name == "closed"
                else f"Poisson {x['rate_per_s']:g}/s for {x['duration_s']:g} s (seed {x['seed']})")
        rows += [[label, what], ["  orders / granted", f"{x['orders']} / {x['granted']}"],
                 ["  granted orders/s", f"{x['granted_per_s']:g}"],
                 ["  outcomes", ", ".join(f"{k}: {v}" for k, v in sorted(x["outcomes"].items()))],
                 ["  order→lease ms p50/p90/p99/max", pct(x["latency_ms"])],
                 ["  end ms p50/p90/p99/max", pct(x["end_latency_ms"])],
                 ["  ends failed", ", ".join(f"{k}: {v}" for k, v in sorted(x["end_failures"].items())) or "0"],
                 ["  CPU: generator / server %", f"{x['generator_cpu_pct']:g} / {x['server_cpu_pct'] or '-'}"]]
        if x["server_cpu_pct_by_replica"] and len(x["server_cpu_pct_by_replica"]) > 1:
            rows += [["  server CPU % by replica", " / ".join(f"{v:g}" for v in x["server_cpu_pct_by_replica"])]]
        rows += [["  server CPU ms per granted order (+ end)", "-" if x["server_cpu_ms_per_grant"] is None
                  else f"{x['server_cpu_ms_per_grant']:g}"]]
        if name == "open":
            rows += [["  late sends (> 5 ms) / max lag ms", f"{x['late_sends']} / {x['max_send_lag_ms']:g}"],
                     ["  connections opened / most open", f"{x['connections_opened']} / {x['most_connections']}"]]
    rows += [[k, str(v)] for k, v in r["recorded"].items()]
    show(table("figures", ["figure", ("value", "right")], rows))


def mount(bench_app: typer.Typer) -> None:
    bench_app.command("orders")(orders)

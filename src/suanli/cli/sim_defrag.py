"""``suanli sim defrag``: gang and whole-node waiting time and allocation on openb with gang jobs, without
and with the defragmentation planner, side by side at each offered load (:mod:`suanli.sim.defrag`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suanli.cli.render import fail, print_json, show, table
from suanli.errors import SuanliError
from suanli.scheduler import policy_names


def defrag(
    load: Annotated[str, typer.Option(help="Offered GPU load ρ, a comma list.")] = "0.85,0.9,1.0,1.1,1.2",
    hours: Annotated[float, typer.Option(help="Simulated horizon in hours.")] = 24.0,
    policy: Annotated[str, typer.Option(help=f"Placement policy of both runs: {', '.join(policy_names())}.")] = "fgd+",
    gang_share: Annotated[float, typer.Option(help="Share of arrivals that are gang (4 or 8 GPUs on one node) or whole-node jobs.")] = 0.05,
    migratable: Annotated[float, typer.Option(help="Share of the other jobs that are migratable.")] = 0.5,
    interval_s: Annotated[float, typer.Option(help="Simulated seconds between two planner runs.")] = 300.0,
    move_cost_s: Annotated[float, typer.Option(help="Seconds of work a moved job loses (checkpoint + restart).")] = 60.0,
    patience_h: Annotated[float, typer.Option(help="A job waiting longer than this (hours) leaves.")] = 6.0,
    seed: Annotated[int, typer.Option(help="Seed of the job stream, the migratable draw and the policy.")] = 42,
    nodes: Annotated[Path | None, typer.Option(help="Node list CSV (default: the openb GPU nodes).")] = None,
    pods: Annotated[str, typer.Option(help="openb pod list CSV or workload name.")] = "default",
    trace_dir: Annotated[Path | None, typer.Option(help="openb trace folder.")] = None,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Instead of openb: the small case of the tests (16 "
                                                              "nodes x 8 GPUs, 10 % gang jobs; --gang-share ignored).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Defragmentation on openb with gang jobs: waiting time of gang and whole-node jobs (mean, p95) and the
    allocation, without and with the planner, in one run (docs/defrag.md)."""
    from suanli.scheduler import FleetState
    from suanli.sim.defrag import DefragResult, DJob, compare_defrag, openb_defrag_jobs, synthetic_jobs
    from suanli.sim.jobs import NODE_FILE, default_trace_dir, resolve_pods
    from suanli.sim.traces import load_nodes, load_pods

    if policy not in policy_names():
        fail(f"--policy {policy!r}: allowed: {', '.join(policy_names())}")
    try:
        loads = [float(x) for x in load.split(",") if x.strip()]
    except ValueError:
        fail(f"--load {load!r}: expected numbers such as 0.85 or 0.85,1.0")
    if not loads or any(x <= 0 or x > 3 for x in loads):
        fail("--load: every ρ must lie in (0, 3]")
    if hours <= 0 or patience_h <= 0 or interval_s <= 0 or move_cost_s < 0:
        fail("--hours, --patience-h and --interval-s must be > 0; --move-cost-s >= 0")
    if not 0 <= gang_share < 1 or not 0 <= migratable <= 1:
        fail("--gang-share must lie in [0, 1) and --migratable in [0, 1]")
    tdir = trace_dir or default_trace_dir()
    horizon = hours * 3600
    runs: list[DefragResult] = []
    try:
        table_n = None if synthetic else load_nodes(nodes or tdir / "csv" / NODE_FILE)
        pt = None if synthetic else load_pods(resolve_pods(pods, tdir))
        for rho in loads:
            def make(r: float = rho) -> tuple[FleetState, list[DJob], float]:
                if table_n is None or pt is None:
                    return synthetic_jobs(r, horizon, seed, migratable_share=migratable)
                return openb_defrag_jobs(table_n, pt, r, horizon, seed, gang_share, migratable)

            pair = compare_defrag(
                make,
                horizon=horizon, rho=rho, policy=policy, seed=seed, patience=patience_h * 3600,
                interval_s=interval_s, move_cost_s=move_cost_s,
            )
            runs.extend(pair)
    except SuanliError as e:
        fail(e.message)
    summaries = [r.summary() for r in runs]
    if as_json:
        print_json({"runs": summaries, "policy": policy, "hours": hours, "gang_share": gang_share,
                    "migratable": migratable})
        return
    cols: list[str | tuple[str, str]] = [
        "ρ", ("offered", "right"), "defrag", ("alloc %", "right"), ("gang wait mean s", "right"), ("p95", "right"),
        ("whole wait mean s", "right"), ("p95 ", "right"), ("gang started", "right"), ("whole started", "right"),
        ("moves", "right"), ("lost GPU-h", "right"),
    ]
    rows = [
        (f"{s['rho']}", f"{s['offered_load']:.3f}", "on" if s["defrag"] else "off", f"{s['alloc_time_avg_pct']:.2f}",
         f"{s['gang_wait_mean_s']:.0f}", f"{s['gang_wait_p95_s']:.0f}", f"{s['whole_wait_mean_s']:.0f}",
         f"{s['whole_wait_p95_s']:.0f}", f"{s['gang_started']}/{s['gang_jobs']}", f"{s['whole_started']}/{s['whole_jobs']}",
         str(s["moves"]), f"{s['moved_lost_gpu_h']:.2f}")
        for s in summaries
    ]
    what = "synthetic 16 x 8 GPUs + 10% gang jobs" if synthetic else f"openb {pods} + {gang_share:.0%} gang jobs"
    show(table(f"defrag · {what} · {migratable:.0%} migratable · {policy} · {hours:g} h",
               cols, rows))
    show("waits count jobs that left (patience) or still wait at the horizon with the time they waited")

"""``suanli sim fgd`` (the FGD static protocol), ``suanli sim compare`` (a policy against FGD at every
arrival bin), ``suanli sim variants`` (pod lists derived from ``default`` with a seed),
``suanli sim multires`` (the FGD protocol with pods' memory enforced: GPU and CPU allocation of
FGD, fgd+ and fgd+md side by side), ``suanli sim run`` (dynamic leasing) and ``suanli sim hetero`` (speed-aware vs agnostic placement on
Gavel's heterogeneous cluster).

Mounted by ``suanli.cli.main`` as ``suanli sim …``; also runnable as ``python -m suanli.cli.sim``.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from suanli.cli import sim_anatomy as _sim_anatomy
from suanli.cli import sim_defrag as _sim_defrag
from suanli.cli.extras import need
from suanli.cli.render import fail, print_json, show, table
from suanli.errors import SuanliError
from suanli.scheduler import policy_names
from suanli.sim.fgd import BINS, FgdRun
from suanli.sim.jobs import NODE_FILE, FgdJob, default_trace_dir, resolve_pods, run_jobs, workload_files
from suanli.sim.published import Published, load_published
from suanli.sim.traces import workload_name

app = typer.Typer(help="Trace-driven simulation of the placement engine.", no_args_is_help=True)


def parse_seeds(text: str) -> list[int]:
    """``42-51``, ``42,43`` or ``42``."""
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        fail(f"--seeds {text!r}: expected a range like 42-51 or a list like 42,43")
    if not out:
        fail("--seeds: no seeds given")
    return out


def check_policy(name: str) -> str:
    key = name.strip().lower()
    if key not in policy_names():
        fail(f"unknown policy {name!r}; allowed: {', '.join(policy_names())}")
    return key


def progress_bar(total: int, label: str) -> Progress:
    return Progress(
        TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
        transient=True, disable=total <= 1 or not os.isatty(2),
    )


def run_with_progress(jobs: list[FgdJob], workers: int, label: str) -> list[FgdRun]:
    with progress_bar(len(jobs), label) as prog:
        task = prog.add_task(label, total=len(jobs))
        return run_jobs(jobs, workers, on_done=lambda _r: prog.advance(task))


def summarise(runs: list[FgdRun], published: Published | None) -> dict[str, Any]:
    alloc = np.array([r.discrete() for r in runs])
    frag = np.array([r.discrete(r.frag_milli) for r in runs])
    w, p = runs[0].workload, runs[0].policy
    out: dict[str, Any] = {
        "workload": w,
        "policy": p,
        "seeds": [r.seed for r in runs],
        "alloc_100": round(float(np.nanmean(alloc[:, 100])), 3),
        "alloc_130": round(float(np.nanmean(alloc[:, 130])), 3),
        "sd_130": round(float(np.nanstd(alloc[:, 130], ddof=1)) if len(runs) > 1 else 0.0, 3),
        "frag_130": round(float(np.nanmean(frag[:, 130])), 3),
        "failed_pods": float(np.mean([r.failed for r in runs])),
        "seconds_per_run": round(float(np.mean([r.seconds for r in runs])), 3),
        "placements_per_s": round(float(np.mean([r.pods / r.seconds for r in runs])), 1),
        "published_100": None,
        "published_130": None,
    }
    if published is not None:
        out["published_100"] = published.at(w, p, 100)
        out["published_130"] = published.at(w, p, 130)
    return out


def write_outputs(out: Path, runs: list[FgdRun], published: Published | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    w, p = runs[0].workload, runs[0].policy
    stem = f"{w}_{p.replace('+', 'plus')}"
    files = []
    for kind in ("alloc", "frag"):
        path = out / f"{stem}_{kind}.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("workload,policy,seed," + ",".join(str(b) for b in BINS) + "\n")
            for r in runs:
                vals = r.discrete() if kind == "alloc" else r.discrete(r.frag_milli)
                fh.write(f"{w},{p},{r.seed}," + ",".join("" if np.isnan(v) else f"{v:.2f}" for v in vals) + "\n")
        files.append(path)
    files.append(plot_alloc(out / f"{stem}.png", runs, published))
    return files


def pyplot() -> Any:
    """``matplotlib.pyplot`` (Agg backend). matplotlib is the ``plot`` extra: without it ``--out`` stops
    before the run with the pip command to install it."""
    need("matplotlib", "--out (a PNG plot)").use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_alloc(path: Path, runs: list[FgdRun], published: Published | None) -> Path:
    plt = pyplot()
    w, p = runs[0].workload, runs[0].policy
    fig, ax = plt.subplots(figsize=(7, 4.5))
    mean = np.nanmean(np.array([r.discrete() for r in runs]), axis=0)
    ax.plot(BINS, mean, lw=2.2, label=f"{p} (ours, {len(runs)} seeds)")
    if published is not None:
        for (pw, pp), curves in sorted(published.curves.items()):
            if pw == w:
                ax.plot(BINS, np.nanmean(curves, axis=0), lw=1, ls="--", label=f"{pp} (published)")
    ax.plot(BINS, BINS, color="grey", lw=0.6, ls=":", label="arrived")
    ax.set_xlabel("arrived GPU request (% of capacity)")
    ax.set_ylabel("allocated GPU (% of capacity)")
    ax.set_title(f"FGD protocol — {w}")
    ax.set_xlim(0, 130)
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@app.command("fgd")
def fgd(
    policy: Annotated[str, typer.Option(help=f"Placement policy: {', '.join(policy_names())}.")] = "fgd",
    nodes: Annotated[Path | None, typer.Option(help="Node list CSV (default: the trace's GPU nodes).")] = None,
    pods: Annotated[str, typer.Option(help="Pod list CSV, or a workload name such as default or cpu050.")] = "default",
    seeds: Annotated[str, typer.Option(help="Seeds: 42-51, or 42,43.")] = "42-51",
    workers: Annotated[int, typer.Option(help="Worker processes (default: CPU count).")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write CSVs and a PNG plot into this directory (the plot needs the plot extra).")] = None,
    published: Annotated[Path | None, typer.Option(help="Published results CSV (analysis_allo_discrete.csv) to compare with and overlay.")] = None,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
    ratio: Annotated[float, typer.Option(help="Inflation: arrive until this multiple of capacity.")] = 1.3,
    tie: Annotated[str | None, typer.Option(help="Tie-break among best nodes: rank (a random node priority fixed per seed, as the artifact), first or random (default: rank; random for the random policy).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Reproduce the FGD static protocol (BENCHMARKS.md §1) for one policy over seeds."""
    pol = check_policy(policy)
    if tie not in (None, "rank", "first", "random"):
        fail(f"--tie {tie!r}: allowed: rank, first, random")
    seed_list = parse_seeds(seeds)
    if out is not None:
        pyplot()
    tdir = trace_dir or default_trace_dir()
    node_path = nodes or tdir / "csv" / NODE_FILE
    pod_path = resolve_pods(pods, tdir)
    try:
        pub = load_published(published) if published is not None else None
        jobs = [FgdJob(str(node_path), str(pod_path), pol, s, ratio, True, tie) for s in seed_list]
        runs = run_with_progress(jobs, workers or os.cpu_count() or 1, f"{workload_name(pod_path)} · {pol}")
        summary = summarise(runs, pub)
        files = write_outputs(out, runs, pub) if out is not None else []
    except SuanliError as e:
        fail(e.message)
    summary["files"] = [str(f) for f in files]
    if as_json:
        print_json(summary)
        return
    rows = [
        (r.seed, r.pods, r.failed, f"{r.alloc_at(100):.2f}", f"{r.alloc_at(130):.2f}",
         f"{r.discrete(r.frag_milli)[130]:.2f}", f"{r.seconds:.2f}")
        for r in runs
    ]
    show(table(f"FGD protocol · {summary['workload']} · {pol}",
               ["seed", ("pods", "right"), ("failed", "right"), ("alloc@100%", "right"), ("alloc@130%", "right"),
                ("frag@130%", "right"), ("s", "right")], rows))
    pub130 = summary["published_130"]
    line = f"mean alloc@100% {summary['alloc_100']:.2f}  alloc@130% {summary['alloc_130']:.2f} ± {summary['sd_130']:.2f}"
    if pub130 is not None:
        line += f"  (published {summary['published_100']:.2f} / {pub130:.2f}; Δ130 {summary['alloc_130'] - pub130:+.2f} pp)"
    show(line)
    for f in files:
        show(f"wrote {f}")


@app.command("multires")
def multires(
    workloads: Annotated[str, typer.Option(help="Comma list of workloads (default, cpu050, …) or pod CSVs; 'all' for every pod list in the trace.")] = "default",
    policies: Annotated[str, typer.Option(help="Comma list of policies run side by side on the same seeds.")] = "fgd,fgd+,fgd+md",
    seeds: Annotated[str, typer.Option(help="Seeds: 42-51, or 42,43.")] = "42-51",
    nodes: Annotated[Path | None, typer.Option(help="Node list CSV with memory_mib (default: the trace's GPU nodes).")] = None,
    ratio: Annotated[float, typer.Option(help="Inflation: arrive until this multiple of the GPU capacity.")] = 1.3,
    workers: Annotated[int, typer.Option(help="Worker processes (default: CPU count).")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the per-bin mean curves (GPU, CPU, memory %) as multires_curves.csv into this directory.")] = None,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Multi-resource packing: the FGD protocol with every pod's memory enforced against its node's
    memory; GPU and CPU allocation at 100 % and 130 % of the GPU capacity arrived (memory at 130 %),
    pods turned away, mean over the seeds, one row per policy and workload."""
    from suanli.sim.multires import best_by_workload, bin_diffs
    from suanli.sim.multires import summarise as summarise_multires

    pols = [check_policy(p) for p in policies.split(",") if p.strip()]
    if not pols:
        fail("--policies: no policy given")
    seed_list = parse_seeds(seeds)
    if ratio <= 0:
        fail("--ratio must be > 0")
    tdir = trace_dir or default_trace_dir()
    node_path = nodes or tdir / "csv" / NODE_FILE
    try:
        if workloads.strip() == "all":
            files = workload_files(tdir)
        else:
            files = [resolve_pods(w.strip(), tdir) for w in workloads.split(",") if w.strip()]
        if not files:
            fail("--workloads: no workload given")
        for f in files:
            if not f.is_file():
                fail(f"workload {workload_name(f)!r}: no file {f}")
        jobs = [FgdJob(str(node_path), str(f), p, s, ratio, False, None, "fast", True)
                for f in files for p in pols for s in seed_list]
        runs = run_with_progress(jobs, workers or os.cpu_count() or 1, "multires")
    except SuanliError as e:
        fail(e.message)
    results = summarise_multires(runs)
    best = best_by_workload(results)
    # the last policy (fgd+md by default) against each other one, bin by bin
    diffs = bin_diffs(results, pols[-1]) if len(pols) > 1 else []
    files_out: list[str] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "multires_curves.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("workload,policy,resource," + ",".join(str(b) for b in BINS) + "\n")
            for r in results:
                for name, curve in (("gpu", r.gpu_curve), ("cpu", r.cpu_curve), ("memory", r.mem_curve)):
                    fh.write(f"{r.workload},{r.policy},{name}," + ",".join("" if np.isnan(v) else f"{v:.2f}" for v in curve) + "\n")
        files_out.append(str(path))
    if as_json:
        print_json({"memory_enforced": True, "seeds": seed_list, "ratio": ratio, "policies": pols,
                    "results": [r.as_dict() for r in results], "best_gpu_130": best,
                    "bins": [d.as_dict() for d in diffs], "files": files_out})
        return
    rows = [(r.workload, r.policy, f"{r.gpu_100:.2f}", f"{r.gpu_130:.2f}", f"{r.cpu_100:.2f}", f"{r.cpu_130:.2f}",
             f"{r.mem_130:.2f}", f"{r.failed:.0f}", f"{r.seconds:.2f}", "*" if best.get(r.workload) == r.policy else "")
            for r in results]
    show(table(f"FGD protocol, pods' memory enforced · {len(seed_list)} seeds · mean allocated %",
               ["workload", "policy", ("GPU@100%", "right"), ("GPU@130%", "right"), ("CPU@100%", "right"),
                ("CPU@130%", "right"), ("mem@130%", "right"), ("failed", "right"), ("s/run", "right"), "best"], rows))
    show("GPU % of GPU milli, CPU % of the fleet's CPU milli, memory % of its memory, at 100 % and 130 % "
         "of the GPU capacity arrived; best: highest GPU@130%")
    if diffs:
        show(table(f"{pols[-1]} − each other policy, GPU allocated % per arrived bin 0..130",
                   ["workload", "against", ("worst pp @ bin", "right"), ("best pp @ bin", "right"), ("CPU@130% pp", "right")],
                   [(d.workload, d.other, f"{d.gpu_worst:+.2f} @ {d.gpu_worst_bin}", f"{d.gpu_best:+.2f} @ {d.gpu_best_bin}",
                     f"{d.cpu_at_130:+.2f}") for d in diffs]))
    for written in files_out:
        show(f"wrote {written}")


@app.command("run")
def run(
    trace: Annotated[str, typer.Option(help="openb (pods with real lifetimes) or philly (gang jobs).")] = "openb",
    policy: Annotated[str, typer.Option(help=f"Placement policy: {', '.join(policy_names())}.")] = "fgd+",
    load: Annotated[str, typer.Option(help="Offered GPU load ρ, or a comma list such as 0.5,0.7,0.85,1.0,1.2.")] = "0.85",
    queue: Annotated[str, typer.Option(help="Queue discipline(s), comma list: fifo, backfill, sjf, las, area.")] = "backfill",
    hours: Annotated[float, typer.Option(help="Simulated horizon in hours.")] = 24.0,
    patience_h: Annotated[float, typer.Option(help="A job waiting longer than this (hours) is rejected.")] = 6.0,
    seed: Annotated[int, typer.Option(help="Seed of the job stream and of the policy.")] = 42,
    nodes: Annotated[Path | None, typer.Option(help="Node list CSV (default: the trace's GPU nodes).")] = None,
    pods: Annotated[str, typer.Option(help="openb pod list CSV or workload name.")] = "default",
    philly: Annotated[Path | None, typer.Option(help="Philly jobs CSV (default ../shared/traces/sia-sosp23-workloads/philly_jobs.csv).")] = None,
    trace_dir: Annotated[Path | None, typer.Option(help="openb trace folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write time series CSVs and a PNG plot into this directory (the plot needs the plot extra).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Dynamic leasing: calibrated offered load, arrivals and departures over simulated time, a queue,
    revenue (BENCHMARKS.md §2)."""
    from suanli.sim.dynamic import QUEUES

    pol = check_policy(policy)
    if trace not in ("openb", "philly"):
        fail(f"--trace {trace!r}: allowed: openb, philly")
    queues = [q.strip() for q in queue.split(",") if q.strip()]
    for q in queues:
        if q not in QUEUES:
            fail(f"--queue {q!r}: allowed: {', '.join(QUEUES)}")
    try:
        loads = [float(x) for x in load.split(",") if x.strip()]
    except ValueError:
        fail(f"--load {load!r}: expected numbers such as 0.85 or 0.5,0.7")
    if not loads or any(x <= 0 for x in loads):
        fail("--load: every ρ must be > 0")
    if hours <= 0 or patience_h <= 0:
        fail("--hours and --patience-h must be > 0")
    if out is not None:
        pyplot()
    results = render_dynamic(trace, pol, loads, queues, hours * 3600, patience_h * 3600, seed, nodes, pods, philly,
                             trace_dir, out)
    summaries = [r.summary() | {"trace": trace} for r in results]
    if as_json:
        print_json({"runs": summaries, "files": _dyn_files(out, results, trace)})
        return
    cols: list[str | tuple[str, str]] = ["ρ", "queue", ("offered", "right"), ("alloc %", "right"), ("F %", "right"), ("wait mean s", "right"),
            ("p50", "right"), ("p99", "right"), ("JCT mean h", "right"), ("rejected", "right"),
            ("waiting@H", "right"), ("device-h", "right"), (f"revenue {summaries[0]['currency'] if summaries else ''}", "right")]
    rows = [
        (f"{s['rho']}", str(s["queue"]), f"{s['offered_load']:.3f}", f"{s['alloc_time_avg_pct']:.2f}",
         f"{s['frag_time_avg_pct']:.2f}", f"{s['wait_mean_s']:.0f}", f"{s['wait_p50_s']:.0f}", f"{s['wait_p99_s']:.0f}",
         f"{float(s['jct_mean_s']) / 3600:.2f}", str(s["rejected"]), str(s["waiting_at_end"]),
         f"{Decimal(str(s['device_hours_served'])):,.0f}", f"{Decimal(str(s['revenue'] or 0)):,.2f}")
        for s in summaries
    ]
    show(table(f"dynamic · {trace} · {pol} · {hours:g} h", cols, rows))
    show(f"revenue rated through the ledger: {results[0].price_label}" if results else "")
    for f in _dyn_files(out, results, trace):
        show(f"wrote {f}")


@app.command("hetero")
def hetero(
    rates: Annotated[str, typer.Option(help="Arrival rates in jobs per hour, comma list.")] = "0.5,1,1.5,2,2.5",
    policies: Annotated[str, typer.Option(help="Comma list of: agnostic, greedy, aware.")] = "agnostic,greedy,aware",
    jobs: Annotated[int, typer.Option(help="Jobs per run (the middle half is measured).")] = 2000,
    seeds: Annotated[str, typer.Option(help="Seeds: 1-5, or 1,2.")] = "1-5",
    data_dir: Annotated[Path | None, typer.Option(help="Gavel data folder (default ../shared/traces/gavel-philly-derived).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Heterogeneity check (BENCHMARKS.md §2): mean JCT of speed-aware vs speed-agnostic placement on
    Gavel's 36 V100 + 36 P100 + 36 K80 with its measured throughputs and Philly-derived jobs."""
    from suanli.sim.hetero import POLICIES, job_pool, simulate_hetero
    from suanli.sim.traces import load_gavel_throughputs, load_gavel_trace

    pols = [x.strip() for x in policies.split(",") if x.strip()]
    for x in pols:
        if x not in POLICIES:
            fail(f"--policies {x!r}: allowed: {', '.join(POLICIES)}")
    try:
        rate_list = [float(x) for x in rates.split(",") if x.strip()]
    except ValueError:
        fail(f"--rates {rates!r}: expected numbers such as 1 or 0.5,1,2")
    if not rate_list or any(r <= 0 for r in rate_list):
        fail("--rates: every rate must be > 0 jobs per hour")
    if jobs < 4:
        fail("--jobs: at least 4")
    seed_list = parse_seeds(seeds)
    ddir = data_dir or default_trace_dir().parent / "gavel-philly-derived"
    try:
        pool = job_pool(load_gavel_trace(sorted((ddir / "msr-seed0").glob("*.trace"))),
                        load_gavel_throughputs(ddir / "simulation_throughputs.json"))
        res = {(r, p): [simulate_hetero(pool, p, r, jobs, s) for s in seed_list] for r in rate_list for p in pols}
    except SuanliError as e:
        fail(e.message)
    out = []
    for (r, p), rs in res.items():
        base = res.get((r, "agnostic"))
        jct = float(np.mean([x.mean_jct_h for x in rs]))
        out.append({
            "rate_per_h": r, "policy": p, "offered_load": round(rs[0].offered_load, 3), "seeds": len(rs),
            "mean_jct_h": round(jct, 2), "p50_jct_h": round(float(np.mean([x.p50_jct_h for x in rs])), 2),
            "mean_wait_h": round(float(np.mean([x.mean_wait_h for x in rs])), 2),
            "agnostic_over_this": None if base is None else round(float(np.mean([x.mean_jct_h for x in base])) / jct, 2),
            "share_on": {k: round(float(np.mean([x.share_on[k] for x in rs])), 3) for k in rs[0].share_on},
        })
    if as_json:
        print_json({"pool_jobs": len(pool.kind), "runs": out})
        return
    rows = [(f"{o['rate_per_h']:g}", f"{o['offered_load']:.2f}", str(o["policy"]), f"{o['mean_jct_h']:.1f}",
             f"{o['p50_jct_h']:.1f}", f"{o['mean_wait_h']:.1f}",
             "-" if o["agnostic_over_this"] is None else f"{o['agnostic_over_this']:.2f}×",
             " ".join(f"{k} {v:.2f}" for k, v in o["share_on"].items()))  # type: ignore[attr-defined]
            for o in out]
    show(table(f"heterogeneity · Gavel 36 V100 + 36 P100 + 36 K80 · {jobs} jobs × {len(seed_list)} seeds",
               [("jobs/h", "right"), ("load", "right"), "policy", ("JCT mean h", "right"), ("p50 h", "right"),
                ("wait mean h", "right"), ("agnostic / this", "right"), "share of jobs"], rows))


def _variant_files(names: str, seed: int, out: Path, tdir: Path) -> list[Path]:
    """Write the variants ``names`` (comma list, or ``default``) of the ``default`` pod list into ``out``."""
    from suanli.sim.traces import load_nodes, load_pods
    from suanli.sim.variants import DEFAULT_VARIANTS, make_variant, parse_variant, pods_csv, spec_pool

    wanted = list(DEFAULT_VARIANTS) if names.strip() == "default" else [x.strip() for x in names.split(",") if x.strip()]
    for w in wanted:
        parse_variant(w)
    base = load_pods(resolve_pods("default", tdir))
    nodes = load_nodes(tdir / "csv" / NODE_FILE)
    lists = [resolve_pods(w, tdir) for w in ("gpuspec10", "gpuspec20", "gpuspec33")]
    pool = spec_pool([load_pods(f) for f in lists if f.is_file()])
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for w in wanted:
        v = make_variant(base, nodes, w, seed, pool)
        path = out / v.path
        path.write_text(pods_csv(v), encoding="utf-8")
        files.append(path)
    return files


@app.command("variants")
def variants(
    out: Annotated[Path, typer.Option(help="Directory to write the variant pod lists into.")],
    names: Annotated[str, typer.Option(help="Comma list of variants (specF, modelF, evenF, shareS_specF; F, S in %), or default.")] = "default",
    seed: Annotated[int, typer.Option(help="Seed of the variants (which pods change, and how).")] = 1,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
) -> None:
    """Write pod lists derived from openb ``default`` with a seed (new gpuspec fractions, other
    model-restriction patterns, shares plus restrictions): workloads nobody tuned for."""
    try:
        files = _variant_files(names, seed, out, trace_dir or default_trace_dir())
    except SuanliError as e:
        fail(e.message)
    for f in files:
        show(f"wrote {f}")


@app.command("compare")
def compare(
    workloads: Annotated[str | None, typer.Option(help="Comma list of workloads or pod CSVs (default: every pod list in the trace).")] = None,
    policy: Annotated[str, typer.Option(help="The policy compared.")] = "fgd+",
    against: Annotated[str, typer.Option(help="Policy of ours run on the same seeds as a second reference ('' for none).")] = "fgd",
    seeds: Annotated[str, typer.Option(help="Seeds: 42-51, or 42,43.")] = "42-51",
    variants: Annotated[str, typer.Option(help="Also run these variants of default (comma list, or default for "
                                          "spec15,spec25,spec40,spec50,model30,even20,share40_spec20; '' for none).")] = "",
    variant_seed: Annotated[int, typer.Option(help="Seed of the variants.")] = 1,
    variant_dir: Annotated[Path | None, typer.Option(help="Where to write the variant pod lists (default: a temporary folder).")] = None,
    tolerance: Annotated[float, typer.Option(help="A bin counts as below when the policy is more than this (pp) below.")] = 0.1,
    workers: Annotated[int, typer.Option(help="Worker processes (default: CPU count).")] = 0,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Per-bin comparison at every arrival bin 0..130 %: for each workload the worst bin of
    (policy − FGD's published mean) and of (policy − our reference policy), with 100 % and 130 %."""
    import tempfile

    from suanli.sim.compare import compare as compare_runs

    pol = check_policy(policy)
    refs = [check_policy(a) for a in against.split(",") if a.strip()]
    seed_list = parse_seeds(seeds)
    tdir = trace_dir or default_trace_dir()
    if tolerance < 0:
        fail("--tolerance must be >= 0 (percentage points)")
    try:
        files = [resolve_pods(w.strip(), tdir) for w in workloads.split(",") if w.strip()] if workloads else workload_files(tdir)
        with tempfile.TemporaryDirectory(prefix="suanli-variants-") as tmp:
            if variants.strip():
                files += _variant_files(variants, variant_seed, variant_dir or Path(tmp), tdir)
            for f in files:
                if not f.is_file():
                    fail(f"workload {workload_name(f)!r}: no file {f}")
            pub_path = tdir / "fgd-expected-results" / "analysis_allo_discrete.csv"
            pub = load_published(pub_path) if pub_path.is_file() else None
            nodes = str(tdir / "csv" / NODE_FILE)
            jobs = [FgdJob(nodes, str(f), p, s, 1.3, False) for f in files for p in [pol, *refs] for s in seed_list]
            runs = run_with_progress(jobs, workers or os.cpu_count() or 1, f"compare {pol}")
    except SuanliError as e:
        fail(e.message)
    res = compare_runs(runs, pol, refs, pub, tolerance)
    out = [
        {
            "workload": c.workload, "seeds": c.seeds, "alloc_100": round(c.alloc_100, 3), "alloc_130": round(c.alloc_130, 3),
            "ok": c.ok(tolerance),
            "against": [{"reference": g.reference, "worst_pp": round(g.worst, 3), "worst_bin": g.bin,
                         "reference_100": round(g.ref_100, 3), "reference_130": round(g.ref_130, 3),
                         "bins_below": g.bins_below} for g in c.gaps],
        }
        for c in res
    ]
    n_ok = sum(1 for c in res if c.ok(tolerance))
    if as_json:
        print_json({"policy": pol, "references": refs, "seeds": seed_list, "tolerance_pp": tolerance, "workloads": out,
                    "ok": n_ok, "total": len(res)})
        return

    def gap(c: Any, name: str) -> str:
        g = next((x for x in c.gaps if x.reference == name), None)
        return "-" if g is None else f"{g.worst:+.2f} @ {g.bin} ({g.ref_100:.2f} / {g.ref_130:.2f})"

    cols: list[str | tuple[str, str]] = ["workload", ("alloc@100%", "right"), ("alloc@130%", "right"),
                                         ("worst vs FGD published @ bin (pub 100 / 130)", "right")]
    cols += [(f"worst vs {r} @ bin ({r} 100 / 130)", "right") for r in refs] + ["ok"]
    rows = [(c.workload, f"{c.alloc_100:.2f}", f"{c.alloc_130:.2f}", gap(c, "fgd (published)"),
             *[gap(c, f"{r} (ours)") for r in refs], "yes" if c.ok(tolerance) else "NO") for c in res]
    show(table(f"{pol} per arrival bin 0..130 % · {len(seed_list)} seeds · tolerance {tolerance:g} pp", cols, rows))
    show(f"{pol} within {tolerance:g} pp of every reference at every bin on {n_ok} of {len(res)} workloads")


def _dyn_files(out: Path | None, results: list[Any], trace: str) -> list[str]:
    if out is None or not results:
        return []
    p = results[0].policy.replace("+", "plus")
    return [str(out / f"dynamic_{trace}_{p}.csv"), str(out / f"dynamic_{trace}_{p}.png")]


def render_dynamic(
    trace: str, policy: str, loads: list[float], queues: list[str], horizon_s: float, patience_s: float, seed: int,
    nodes: Path | None, pods: str, philly: Path | None, trace_dir: Path | None, out: Path | None,
) -> list[Any]:
    from suanli.sim.dynamic import DynamicResult, simulate
    from suanli.sim.pricing import price_run, trace_price_list
    from suanli.sim.scenarios import openb_scenario, philly_scenario
    from suanli.sim.traces import load_nodes, load_philly, load_pods

    tdir = trace_dir or default_trace_dir()
    results: list[DynamicResult] = []
    try:
        table_n = load_nodes(nodes or tdir / "csv" / NODE_FILE)
        pt = load_pods(resolve_pods(pods, tdir)) if trace == "openb" else None
        ph = load_philly(philly or tdir.parent / "sia-sosp23-workloads" / "philly_jobs.csv") if trace == "philly" else None
        n_runs = len(loads) * len(queues)
        with progress_bar(n_runs * 100, f"sim run · {trace}") as prog:
            task = prog.add_task("sim run", total=n_runs * 100)
            for rho in loads:
                for q in queues:
                    # a fresh fleet and the same job stream (same seed) for every queue
                    sc = (openb_scenario(table_n, pt, rho, horizon_s, seed) if pt is not None
                          else philly_scenario(table_n, ph, rho, horizon_s, seed) if ph is not None else None)
                    assert sc is not None
                    base = float(prog.tasks[0].completed) if prog.tasks else 0.0

                    def tick(t: float, b: float = base) -> None:
                        prog.update(task, completed=b + 100 * t / horizon_s)

                    res = simulate(
                        sc.state, sc.jobs, policy, q, horizon=horizon_s, seed=seed, patience=patience_s,
                        typical=sc.typical, rho=rho, offered=sc.stream.offered, progress=tick,
                    )
                    prog.update(task, completed=base + 100)
                    price_run(res, sc.state.node_ids, sc.state.model_names,
                              trace_price_list(sc.state.model_names), horizon_s)
                    results.append(res)
    except SuanliError as e:
        fail(e.message)
    if out is not None and results:
        write_dynamic(out, results, trace)
    return results


def write_dynamic(out: Path, results: list[Any], trace: str) -> None:
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    p = results[0].policy.replace("+", "plus")
    with (out / f"dynamic_{trace}_{p}.csv").open("w", encoding="utf-8") as fh:
        fh.write("rho,queue,time_s,alloc_pct,frag_pct,queue_len\n")
        for r in results:
            for t, a, f, n in zip(r.times, r.alloc_pct, r.frag_pct, r.queue_len, strict=True):
                fh.write(f"{r.rho},{r.queue},{t:.1f},{a:.3f},{f:.3f},{n}\n")
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for r in results:
        lab = f"ρ={r.rho} {r.queue}"
        ax1.plot(r.times / 3600, r.alloc_pct, lw=0.8, label=lab)
        ax2.plot(r.times / 3600, r.frag_pct, lw=0.8, label=lab)
    ax1.set_ylabel("allocated GPU %")
    ax2.set_ylabel("FGD fragmentation F, % of GPUs")
    ax2.set_xlabel("simulated hours")
    ax1.set_title(f"{trace} · {results[0].policy}")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(out / f"dynamic_{trace}_{p}.png", dpi=110)
    plt.close(fig)


app.command("defrag")(_sim_defrag.defrag)  # gang/whole-node waiting with and without defragmentation
app.command("anatomy")(_sim_anatomy.anatomy)  # where one seed loses allocation (docs/placement.md)

if __name__ == "__main__":
    app()

"""``suanli sim fgd`` (the FGD static protocol) and ``suanli sim run`` (dynamic leasing).

Mounted by ``suanli.cli.main`` as ``suanli sim …``; also runnable as ``python -m suanli.cli.sim``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from suanli.cli.render import fail, print_json, show, table
from suanli.errors import SuanliError
from suanli.scheduler import policy_names
from suanli.sim.fgd import BINS, FgdRun
from suanli.sim.jobs import NODE_FILE, FgdJob, default_trace_dir, resolve_pods, run_jobs
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


def plot_alloc(path: Path, runs: list[FgdRun], published: Published | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    out: Annotated[Path | None, typer.Option(help="Write CSVs and a PNG plot into this directory.")] = None,
    published: Annotated[Path | None, typer.Option(help="Published results CSV (analysis_allo_discrete.csv) to compare with and overlay.")] = None,
    trace_dir: Annotated[Path | None, typer.Option(help="Trace folder (default ../shared/traces/alibaba-gpu-v2023).")] = None,
    ratio: Annotated[float, typer.Option(help="Inflation: arrive until this multiple of capacity.")] = 1.3,
    tie: Annotated[str | None, typer.Option(help="Tie-break among best nodes: first or random (default: as published).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Reproduce the FGD static protocol (BENCHMARKS.md §1) for one policy over seeds."""
    pol = check_policy(policy)
    if tie not in (None, "first", "random"):
        fail(f"--tie {tie!r}: allowed: first, random")
    seed_list = parse_seeds(seeds)
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


@app.command("run")
def run(
    trace: Annotated[str, typer.Option(help="openb (pods with lifetimes) or philly (gang jobs).")] = "openb",
    policy: Annotated[str, typer.Option(help=f"Placement policy: {', '.join(policy_names())}.")] = "fgd+",
    load: Annotated[float, typer.Option(help="Offered GPU load ρ (arrivals rescaled to it).")] = 0.85,
    queue: Annotated[str, typer.Option(help="Queue discipline: fifo, backfill, sjf, las.")] = "backfill",
    jobs: Annotated[int, typer.Option(help="Number of arrivals to simulate.")] = 20000,
    seed: Annotated[int, typer.Option(help="Seed.")] = 42,
    nodes: Annotated[Path | None, typer.Option(help="Node list CSV (default: the trace's GPU nodes).")] = None,
    pods: Annotated[str, typer.Option(help="openb pod list CSV or workload name.")] = "default",
    philly: Annotated[Path | None, typer.Option(help="Philly jobs CSV (default ../shared/traces/sia-sosp23-workloads/philly_jobs.csv).")] = None,
    trace_dir: Annotated[Path | None, typer.Option(help="openb trace folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write time series CSV and PNG plots into this directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Dynamic leasing: arrivals and departures over simulated time, a queue, revenue (BENCHMARKS.md §2)."""
    pol = check_policy(policy)
    render_dynamic(trace, pol, load, queue, jobs, seed, nodes, pods, philly, trace_dir, out, as_json)



def render_dynamic(
    trace: str, policy: str, load: float, queue: str, n_jobs: int, seed: int, nodes: Path | None, pods: str,
    philly: Path | None, trace_dir: Path | None, out: Path | None, as_json: bool,
) -> None:
    from suanli.scheduler import PlacementRequest
    from suanli.sim.dynamic import Job, rescale, simulate
    from suanli.sim.fgd import build_fleet, pod_requests, typical_pods
    from suanli.sim.traces import load_nodes, load_philly, load_pods

    if trace not in ("openb", "philly"):
        fail(f"--trace {trace!r}: allowed: openb, philly")
    if queue not in ("fifo", "backfill", "sjf"):
        fail(f"--queue {queue!r}: allowed: fifo, backfill, sjf")
    if load <= 0:
        fail("--load must be > 0")
    tdir = trace_dir or default_trace_dir()
    try:
        table_n = load_nodes(nodes or tdir / "csv" / NODE_FILE)
        state = build_fleet(table_n)
        state.fabric[:] = np.arange(state.num_nodes) // 16
        cap = float(state.dev_total.sum())
        typ = None
        if trace == "openb":
            pt = load_pods(resolve_pods(pods, tdir))
            if pt.creation_time is None or pt.deletion_time is None:
                fail(f"{pt.path}: needs creation_time and deletion_time columns for dynamic mode")
            dur = (pt.deletion_time - pt.creation_time).astype(float)
            ok = np.flatnonzero(dur > 0)[:n_jobs]
            reqs = pod_requests(pt, state)
            gpu = (pt.num_gpu * pt.gpu_milli)[ok].astype(float)
            arr = rescale(pt.creation_time[ok].astype(float), dur[ok], gpu, load, cap)
            jobs = [Job(float(a), float(d), reqs[i], int(g)) for a, d, i, g in zip(arr, dur[ok], ok, gpu, strict=True)]
            typ = typical_pods(pt)
        else:
            ph = load_philly(philly or tdir.parent / "sia-sosp23-workloads" / "philly_jobs.csv", limit=n_jobs)
            gpu = ph.num_gpus * 1000.0
            arr = rescale(ph.arrival_s, ph.duration_s, gpu, load, cap)
            jobs = [
                Job(float(a), float(d), PlacementRequest(cpu_milli=4000 * int(g), num_devices=int(g))
                    if g <= 8 else PlacementRequest(cpu_milli=4000, spread_devices=int(g)), int(g) * 1000)
                for a, d, g in zip(arr, ph.duration_s, ph.num_gpus, strict=True)
            ]
        jobs.sort(key=lambda j: j.arrival)
        res = simulate(state, jobs, policy, queue, seed, typical=typ, rho=load)
    except SuanliError as e:
        fail(e.message)
    summ = res.summary()
    summ["trace"] = trace
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        csv_path = out / f"dynamic_{trace}_{policy.replace('+', 'plus')}_{queue}.csv"
        with csv_path.open("w", encoding="utf-8") as fh:
            fh.write("time_s,alloc_pct,idle_on_used_nodes_pct\n")
            for t, a, f in zip(res.times, res.alloc_pct, res.frag_pct, strict=True):
                fh.write(f"{t:.1f},{a:.3f},{f:.3f}\n")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(res.times / 3600, res.alloc_pct, lw=0.8, label="allocated GPU %")
        ax.plot(res.times / 3600, res.frag_pct, lw=0.8, label="idle GPU on partly used nodes %")
        ax.set_xlabel("simulated hours")
        ax.set_ylabel("% of GPU capacity")
        ax.set_title(f"{trace} · {policy} · {queue} · ρ={load}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        png = out / csv_path.with_suffix(".png").name
        fig.savefig(png, dpi=110)
        plt.close(fig)
        summ["files"] = [str(csv_path), str(png)]
    if as_json:
        print_json(summ)
        return
    show(table(f"dynamic · {trace} · {policy} · {queue} · ρ={load}", ["metric", ("value", "right")],
               [(k, f"{v:.3f}" if isinstance(v, float) else v) for k, v in summ.items() if k != "files"]))


if __name__ == "__main__":
    app()

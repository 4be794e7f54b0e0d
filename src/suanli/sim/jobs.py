"""Batches of FGD-protocol runs, optionally over worker processes (the CLI draws progress).

Workers re-read the trace files themselves (cached per process), so a job is a few strings.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from suanli.errors import NotFoundError
from suanli.sim.fgd import FgdRun, run_fgd
from suanli.sim.traces import NodeTable, PodTable, load_nodes, load_pods

TRACE_SUBDIR = Path("shared") / "traces" / "alibaba-gpu-v2023"
NODE_FILE = "openb_node_list_gpu_node.csv"


def default_trace_dir() -> Path:
    """``$SUANLI_TRACE_DIR``, else ``../shared/traces/alibaba-gpu-v2023`` next to the working
    directory or next to the repository this package lives in."""
    env = os.environ.get("SUANLI_TRACE_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        cand = base.parent / TRACE_SUBDIR
        if cand.is_dir():
            return cand
    return Path.cwd().parent / TRACE_SUBDIR


def resolve_pods(value: str, trace_dir: Path) -> Path:
    """A pod CSV path, or a workload name such as ``default`` or ``cpu050``."""
    p = Path(value)
    if p.suffix == ".csv" or "/" in value:
        return p
    return trace_dir / "csv" / f"openb_pod_list_{value}.csv"


def workload_files(trace_dir: Path) -> list[Path]:
    d = trace_dir / "csv"
    if not d.is_dir():
        raise NotFoundError(f"trace directory not found: {d}", path=str(d))
    return sorted(d.glob("openb_pod_list_*.csv"))


@dataclass(frozen=True)
class FgdJob:
    nodes: str
    pods: str
    policy: str
    seed: int
    ratio: float = 1.3
    track_frag: bool = True
    tie_break: str | None = None
    engine: str = "fast"
    #: enforce pods' memory against nodes' memory (the FGD protocol does not)
    respect_memory: bool = False


@lru_cache(maxsize=8)
def _nodes(path: str) -> NodeTable:
    return load_nodes(path)


@lru_cache(maxsize=32)
def _pods(path: str) -> PodTable:
    return load_pods(path)


def run_job(job: FgdJob) -> FgdRun:
    return run_fgd(
        _nodes(job.nodes), _pods(job.pods), job.policy, job.seed,
        ratio=job.ratio, track_frag=job.track_frag, tie_break=job.tie_break, engine=job.engine,
        respect_memory=job.respect_memory,
    )


def run_jobs(
    jobs: Iterable[FgdJob], workers: int = 1, on_done: Callable[[FgdRun], None] | None = None
) -> list[FgdRun]:
    """Run every job (in worker processes when ``workers > 1``), in input order."""
    todo = list(jobs)
    if workers <= 1 or len(todo) <= 1:
        out = []
        for j in todo:
            r = run_job(j)
            if on_done:
                on_done(r)
            out.append(r)
        return out
    results: dict[int, FgdRun] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future[FgdRun], int] = {pool.submit(run_job, j): i for i, j in enumerate(todo)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                i = pending.pop(f)
                results[i] = f.result()
                if on_done:
                    on_done(results[i])
    return [results[i] for i in range(len(todo))]

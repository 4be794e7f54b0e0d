"""Heterogeneity check (BENCHMARKS.md §2): does placement that knows each job's speed on each
GPU type beat placement that treats all GPUs as equal, on average job completion time?

Data: Gavel's (OSDI '20) measured isolated throughputs (steps/s) of 26 job types × scale
factors on V100, P100 and K80, and its Philly-derived job list (job type, total steps, GPUs).
A job of ``g`` GPUs runs on ``g`` GPUs of *one* type for ``steps / throughput(type)`` seconds;
a type with no measured (or zero) throughput cannot run it. Jobs whose (type, scale) has no
measurement on every GPU type are left out of the pool (scale factors 1, 2, 4, 8 remain).

Cluster: Gavel's simulated one, 36 V100 + 36 P100 + 36 K80, each type a pool of GPUs (Gavel's
own simulator also treats GPUs of a type as interchangeable). Arrivals: Poisson at ``rate``
jobs per hour, jobs drawn uniformly from the pool (seeded). Queue: FIFO with backfill, never
preempts (a lease runs to its end); every arrival and completion rescans the queue in order.

Placement policies, all work-conserving except where ``aware`` chooses to wait:

* ``agnostic`` — a type drawn uniformly among those with enough free GPUs (all GPUs equal);
* ``greedy`` — the fastest type for this job among those with enough free GPUs now;
* ``aware`` — the type with the earliest *estimated finish*: for each type, the start is now
  if enough GPUs are free, else when enough running jobs of that type will have ended (their
  end times are known: steps / throughput); finish = start + run time there. If the best type
  is busy the job waits for it (jobs behind it may still start elsewhere).

Metrics: mean and median JCT (arrival → finish) and mean queueing delay of the jobs in the
middle half of the arrival sequence (steady state; the run continues until they all finish),
GPU-hours used. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from suanli.errors import ValidationError
from suanli.sim.traces import GavelJobs

GPU_TYPES = ("v100", "p100", "k80")
POLICIES = ("agnostic", "greedy", "aware")
GAVEL_CLUSTER = {"v100": 36, "p100": 36, "k80": 36}


@dataclass(frozen=True)
class JobPool:
    """Distinct jobs to draw from: run time in seconds per GPU type (``inf`` = cannot run)."""

    kind: list[str]
    gpus: np.ndarray  # (J,)
    run_s: np.ndarray  # (J, T) in GPU_TYPES order


def job_pool(jobs: GavelJobs, throughputs: dict[str, dict[tuple[str, int], float]]) -> JobPool:
    kinds: list[str] = []
    gpus: list[int] = []
    runs: list[list[float]] = []
    for kind, steps, g in zip(jobs.kind, jobs.steps.tolist(), jobs.gpus.tolist(), strict=True):
        row = []
        for t in GPU_TYPES:
            tput = throughputs.get(t, {}).get((kind, int(g)))
            if tput is None:
                break
            row.append(steps / tput if tput > 0 else float("inf"))
        if len(row) != len(GPU_TYPES) or not np.isfinite(row).any():
            continue
        kinds.append(kind)
        gpus.append(int(g))
        runs.append(row)
    if not kinds:
        raise ValidationError("no job of the trace has a measured throughput on every GPU type")
    return JobPool(kinds, np.array(gpus, np.int64), np.array(runs))


@dataclass(frozen=True)
class HeteroResult:
    policy: str
    rate_per_h: float
    seed: int
    jobs: int
    measured: int
    mean_jct_h: float
    p50_jct_h: float
    mean_wait_h: float
    gpu_hours: float
    share_on: dict[str, float]  # fraction of measured jobs placed on each type
    offered_load: float  # arrival rate × mean GPU-time on each job's fastest type / GPUs (a lower bound)


def simulate_hetero(
    pool: JobPool,
    policy: str,
    rate_per_h: float,
    n_jobs: int = 1000,
    seed: int = 0,
    cluster: dict[str, int] | None = None,
    arrivals_s: np.ndarray | None = None,
    picks: np.ndarray | None = None,
) -> HeteroResult:
    """One run. ``arrivals_s`` and ``picks`` (indices into ``pool``) replace the Poisson stream
    and the uniform draw when given (both, of equal length)."""
    if policy not in POLICIES:
        raise ValidationError(f"unknown heterogeneity policy {policy!r}; allowed: {', '.join(POLICIES)}", field="policy")
    if rate_per_h <= 0 or n_jobs < 4:
        raise ValidationError("rate must be > 0 jobs/hour and at least 4 jobs are needed", field="rate")
    counts = cluster if cluster is not None else GAVEL_CLUSTER
    cap = np.array([int(counts.get(t, 0)) for t in GPU_TYPES], np.int64)
    if cap.sum() <= 0:
        raise ValidationError("the cluster has no GPUs", field="cluster")
    rng = np.random.default_rng(seed)
    # jobs that can run somewhere in this cluster
    can = np.isfinite(pool.run_s) & (pool.gpus[:, None] <= cap[None, :])
    usable = np.flatnonzero(can.any(axis=1))
    if usable.size == 0:
        raise ValidationError("no job of the pool fits this cluster", field="cluster")
    if (arrivals_s is None) != (picks is None):
        raise ValidationError("give both arrivals_s and picks, or neither", field="arrivals_s")
    if arrivals_s is not None and picks is not None:
        if len(arrivals_s) != len(picks) or len(picks) < 4 or not set(np.asarray(picks).tolist()) <= set(usable.tolist()):
            raise ValidationError("arrivals_s and picks: equal lengths ≥ 4, picks of jobs that fit the cluster", field="picks")
        n_jobs = len(picks)
        pick = np.asarray(picks, np.int64)
        arrival = np.sort(np.asarray(arrivals_s, np.float64))
    else:
        pick = usable[rng.integers(0, usable.size, n_jobs)]
        arrival = np.cumsum(rng.exponential(3600.0 / rate_per_h, n_jobs))
    run = np.where(can[pick], pool.run_s[pick], np.inf)  # (n, T)
    g = pool.gpus[pick]
    tie_rng = np.random.default_rng([seed, 1])

    free = cap.copy()
    running: list[list[tuple[float, int]]] = [[] for _ in GPU_TYPES]  # (end, gpus) per type
    start = np.full(n_jobs, np.nan)
    finish = np.full(n_jobs, np.nan)
    where = np.full(n_jobs, -1, np.int64)
    queue: list[int] = []
    events: list[tuple[float, int, int]] = [(float(arrival[i]), 1, i) for i in range(n_jobs)]  # kind 0 = end, 1 = arrival
    heapq.heapify(events)

    def earliest_start(t: int, need: int, now: float) -> float:
        if free[t] >= need:
            return now
        have = int(free[t])
        for end, k in sorted(running[t]):
            have += k
            if have >= need:
                return end
        return float("inf")

    def schedule(now: float) -> None:
        keep: list[int] = []
        for j in queue:
            ok = np.flatnonzero((free >= g[j]) & np.isfinite(run[j]))
            choice = -1
            if policy == "aware":
                est = np.array([earliest_start(t, int(g[j]), now) + run[j, t] for t in range(len(GPU_TYPES))])
                best = int(np.argmin(est))
                if np.isfinite(est[best]) and free[best] >= g[j]:
                    choice = best
            elif ok.size:
                choice = int(ok[np.argmin(run[j, ok])]) if policy == "greedy" else int(tie_rng.choice(ok))
            if choice < 0:
                keep.append(j)
                continue
            free[choice] -= g[j]
            start[j], where[j] = now, choice
            end = now + float(run[j, choice])
            finish[j] = end
            running[choice].append((end, int(g[j])))
            heapq.heappush(events, (end, 0, j))
        queue[:] = keep

    def handle(kind: int, j: int) -> None:
        if kind == 1:  # arrival
            queue.append(j)
        else:  # completion
            t = int(where[j])
            free[t] += g[j]
            running[t].remove((float(finish[j]), int(g[j])))

    while events:
        now, kind, j = heapq.heappop(events)
        handle(kind, j)
        while events and events[0][0] == now:  # every event at the same instant before scheduling
            _, kind, j = heapq.heappop(events)
            handle(kind, j)
        schedule(now)
    if queue:
        raise ValidationError(f"{len(queue)} jobs could never start (they need more GPUs of one type than exist)")

    lo, hi = n_jobs // 4, 3 * n_jobs // 4
    m = np.arange(lo, hi)
    jct = (finish[m] - arrival[m]) / 3600.0
    wait = (start[m] - arrival[m]) / 3600.0
    used = float(np.sum(g * (finish - start)) / 3600.0)
    share = {t: float(np.mean(where[m] == k)) for k, t in enumerate(GPU_TYPES)}
    fastest = np.where(can[usable], pool.run_s[usable], np.inf).min(axis=1)
    load = rate_per_h / 3600.0 * float(np.mean(pool.gpus[usable] * fastest)) / float(cap.sum())
    return HeteroResult(
        policy, rate_per_h, seed, n_jobs, int(m.size), float(jct.mean()), float(np.median(jct)),
        float(wait.mean()), used, share, load,
    )

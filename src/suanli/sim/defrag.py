"""Defragmentation in the dynamic simulator: gang and whole-node orders' waiting time and the
allocation, with and without the planner of :mod:`suanli.scheduler.defrag` (the server's).

Workload
--------
openb pods with their real lifetimes (:mod:`suanli.sim.scenarios`), plus **gang jobs** drawn into
the same trace: a share ``gang_share`` of the arrivals asks for 4 or 8 whole GPUs on one node
("gang") or for a whole 8-GPU node ("whole"), with lifetimes drawn from the pods'. The stream is
made stationary and calibrated to the offered GPU load ``rho`` (:func:`stationary_jobs`: every
job counts its GPU-milli, a whole node 8,000). A share ``migratable_share`` of the other jobs
(GPU shares, whole GPUs and CPU-only pods) is migratable, drawn with the seed: the same jobs in
both runs.

Run
---
One event loop (arrivals, departures; simulated time only), FIFO with backfill, the same
placement policy in both runs; a job that waits longer than ``patience`` leaves. With
defragmentation, every ``interval_s`` the planner gets the running migratable jobs (each moved
at most once per ``cooldown_s``) and the waiting gang / whole-node jobs that still do not fit
(oldest first, at most ``max_targets``); its moves are applied and the freed targets start.
Model of a move (stated, not measured): the capacity moves at once and the moved job loses
``move_cost_s`` seconds (checkpoint + restart) which it runs again on its new devices; the
server's notice period is not simulated (the planner's room is reserved as soon as the plan runs).

Metrics over ``[0, H]``: waiting time (arrival → start) of gang and whole-node jobs, mean and
p95, where a job that left unserved (patience) or still waits at ``H`` counts the time it waited
(censored, so a run cannot look better by refusing); the time-averaged GPU allocation (% of
capacity); the number of moves and the GPU-hours of work they lost.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from suanli.errors import ValidationError
from suanli.scheduler import MILLI, FleetState, Placement, PlacementRequest, get_policy
from suanli.scheduler.base import feasible_nodes
from suanli.scheduler.defrag import Movable, is_defrag_target, plan_defrag
from suanli.sim.dynamic import offered_load, stationary_jobs
from suanli.sim.fgd import pod_requests
from suanli.sim.scenarios import _fleet
from suanli.sim.traces import NodeTable, PodTable

KINDS = ("pod", "gang", "whole")
GANG_CPU_PER_GPU = 4000


@dataclass(frozen=True)
class DJob:
    arrival: float
    duration: float
    req: PlacementRequest
    gpu_milli: int
    kind: str
    migratable: bool
    initial: bool = False


@dataclass(frozen=True)
class DefragResult:
    defrag: bool
    rho: float
    offered: float
    horizon_s: float
    waits: dict[str, np.ndarray]
    """Per kind, the (censored) waiting times of the jobs that arrived in [0, H]."""
    started: dict[str, int]
    alloc_pct: float
    moves: int
    moved_lost_gpu_h: float
    plans: int

    def wait_stats(self, kind: str) -> tuple[float, float]:
        w = self.waits.get(kind, np.zeros(0))
        if w.size == 0:
            return 0.0, 0.0
        return float(w.mean()), float(np.percentile(w, 95))

    def summary(self) -> dict[str, float | int | bool]:
        out: dict[str, float | int | bool] = {
            "defrag": self.defrag, "rho": self.rho, "offered_load": round(self.offered, 4),
            "alloc_time_avg_pct": round(self.alloc_pct, 3), "moves": self.moves,
            "moved_lost_gpu_h": round(self.moved_lost_gpu_h, 3), "plans": self.plans,
        }
        for k in ("gang", "whole"):
            mean, p95 = self.wait_stats(k)
            out[f"{k}_jobs"] = int(self.waits.get(k, np.zeros(0)).size)
            out[f"{k}_started"] = self.started.get(k, 0)
            out[f"{k}_wait_mean_s"] = round(mean, 1)
            out[f"{k}_wait_p95_s"] = round(p95, 1)
        return out


def gang_requests() -> list[tuple[str, PlacementRequest, int]]:
    """The gang shapes drawn into the trace: 4 and 8 whole GPUs on one node, a whole 8-GPU node."""
    return [
        ("gang", PlacementRequest(cpu_milli=4 * GANG_CPU_PER_GPU, num_devices=4), 4 * MILLI),
        ("gang", PlacementRequest(cpu_milli=8 * GANG_CPU_PER_GPU, num_devices=8), 8 * MILLI),
        ("whole", PlacementRequest(num_devices=8, whole_node=True), 8 * MILLI),
    ]


def build_jobs(
    base_reqs: Sequence[PlacementRequest], base_gpu: np.ndarray, base_dur: np.ndarray, capacity_milli: float,
    rho: float, horizon_s: float, seed: int = 0, gang_share: float = 0.05, migratable_share: float = 0.5,
    gangs: Sequence[tuple[str, PlacementRequest, int]] | None = None,
) -> tuple[list[DJob], float]:
    """A stationary stream over the base trace plus gang shapes (see the module docstring)."""
    if not 0 <= gang_share < 1 or not 0 <= migratable_share <= 1:
        raise ValidationError("gang_share must lie in [0, 1) and migratable_share in [0, 1]", field="gang_share")
    gangs = list(gangs if gangs is not None else gang_requests())
    rng = np.random.default_rng(seed + 7919)
    p = len(base_reqs)
    n_gang = round(p * gang_share / (1 - gang_share)) if gang_share > 0 else 0
    g_kind = rng.integers(0, len(gangs), n_gang)
    g_dur = base_dur[rng.integers(0, p, n_gang)]
    gpu = np.concatenate([base_gpu.astype(np.float64), np.array([gangs[k][2] for k in g_kind], np.float64)])
    dur = np.concatenate([base_dur.astype(np.float64), g_dur.astype(np.float64)])
    stream = stationary_jobs(gpu, dur, rho, capacity_milli, horizon_s, seed)
    mig = rng.random(stream.pick.size) < migratable_share
    jobs: list[DJob] = []
    for i, (a, d, pk, ini) in enumerate(zip(stream.arrivals, stream.durations, stream.pick, stream.initial, strict=True)):
        pk = int(pk)
        if pk < p:
            jobs.append(DJob(float(a), float(d), base_reqs[pk], int(gpu[pk]), "pod", bool(mig[i]), bool(ini)))
        else:
            kind, req, milli = gangs[int(g_kind[pk - p])]
            jobs.append(DJob(float(a), float(d), req, milli, kind, False, bool(ini)))
    jobs.sort(key=lambda j: j.arrival)
    return jobs, stream.offered


def openb_defrag_jobs(
    nodes: NodeTable, pods: PodTable, rho: float, horizon_s: float, seed: int = 0, gang_share: float = 0.05,
    migratable_share: float = 0.5,
) -> tuple[FleetState, list[DJob], float]:
    if pods.creation_time is None or pods.deletion_time is None:
        raise ValidationError(f"{pods.path}: defrag simulation needs creation_time and deletion_time", path=pods.path)
    state = _fleet(nodes)
    dur = (pods.deletion_time - pods.creation_time).astype(np.float64)
    ok = np.flatnonzero(dur > 0)
    reqs = pod_requests(pods, state)
    gpu = (pods.num_gpu * pods.gpu_milli)[ok].astype(np.float64)
    jobs, offered = build_jobs([reqs[int(i)] for i in ok], gpu, dur[ok], float(state.dev_total.sum()), rho, horizon_s,
                               seed, gang_share, migratable_share)
    return state, jobs, offered


def synthetic_jobs(rho: float, horizon_s: float, seed: int = 0, gang_share: float = 0.1,
                   migratable_share: float = 0.5) -> tuple[FleetState, list[DJob], float]:
    """A small case where fragmentation, not capacity, makes gangs wait: 16 nodes × 8 GPUs (96 cores), jobs of
    0.25, 0.5 and 1 GPU (1, 2 and 1.5 h), plus gang and whole-node jobs (the test's and the docs' case)."""
    st = FleetState.from_nodes([f"n{i}" for i in range(16)], [96000] * 16, [["G2"] * 8] * 16)
    st.fabric[:] = np.arange(16)
    shapes = [PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=500),
              PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=250),
              PlacementRequest(cpu_milli=8000, num_devices=1)]
    gpu = np.tile([500.0, 250.0, 1000.0], 30)
    dur = np.tile([3600.0, 7200.0, 5400.0], 30)
    jobs, offered = build_jobs(30 * shapes, gpu, dur, float(st.dev_total.sum()), rho, horizon_s, seed, gang_share,
                               migratable_share)
    return st, jobs, offered


def simulate_defrag(
    state: FleetState, jobs: Sequence[DJob], *, defrag: bool, horizon: float, policy: str = "fgd+",
    seed: int = 0, patience: float = 6 * 3600.0, interval_s: float = 300.0, cooldown_s: float = 3600.0,
    move_cost_s: float = 60.0, max_targets: int = 4, max_moves: int = 32, rho: float = 0.0, offered: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> DefragResult:
    """Run ``jobs`` on ``state`` (changed in place) until ``horizon``; see the module docstring."""
    pol = get_policy(policy)
    rng = np.random.default_rng(seed)
    cap = float(state.dev_total.sum())
    ev: list[tuple[float, int, int, int]] = [(j.arrival, 1, i, 0) for i, j in enumerate(jobs) if j.arrival < horizon]
    heapq.heapify(ev)
    placement: dict[int, Placement] = {}
    end_at: dict[int, float] = {}
    token: dict[int, int] = {}
    last_move: dict[int, float] = {}
    waiting: list[int] = []
    start_at: dict[int, float] = {}
    left_at: dict[int, float] = {}
    used = 0.0
    area = 0.0
    last_t = 0.0
    moves = plans = 0
    lost = 0.0
    next_defrag = 0.0
    now = 0.0

    def start(k: int, p: Placement) -> None:
        nonlocal used
        state.apply(p)
        placement[k] = p
        start_at[k] = now
        used += jobs[k].gpu_milli
        end_at[k] = now + jobs[k].duration
        token[k] = token.get(k, 0) + 1
        heapq.heappush(ev, (end_at[k], 0, k, token[k]))

    next_patience = [0.0]
    shapes: dict[int, int] = {}  # request shape (id) -> how many waiting jobs have it

    def unwait(k: int) -> None:
        sid = id(jobs[k].req)
        shapes[sid] -= 1
        if not shapes[sid]:
            del shapes[sid]

    def schedule() -> None:
        kept: list[int] = []
        failed: set[int] = set()
        n_shapes = len(shapes)
        full = now >= next_patience[0]
        if full:  # patience is checked for every waiting job once per simulated minute
            next_patience[0] = now + 60.0
        for i, k in enumerate(waiting):
            if not full and len(failed) >= n_shapes:
                kept.extend(waiting[i:])  # every waiting shape already found no room in this pass
                break
            job = jobs[k]
            if now - job.arrival > patience:
                left_at[k] = job.arrival + patience
                unwait(k)
                continue
            req = job.req
            if id(req) in failed:
                kept.append(k)
                continue
            simple = not (req.gang_nodes or req.spread_devices)
            d = pol.place(state, req, rng) if (not simple or feasible_nodes(state, req).any()) else None
            if isinstance(d, Placement):
                start(k, d)
                unwait(k)
            else:
                failed.add(id(req))
                kept.append(k)
        waiting[:] = kept

    def run_defrag() -> None:
        nonlocal moves, plans, lost, used
        targets = [k for k in waiting if is_defrag_target(jobs[k].req)][:max_targets]
        if not targets:
            return
        movables = [
            Movable(str(k), p, jobs[k].req) for k, p in placement.items()
            if jobs[k].migratable and now - last_move.get(k, -1e18) >= cooldown_s
        ]
        if not movables:
            return
        plan = plan_defrag(state, movables, [jobs[k].req for k in targets], max_moves=max_moves)
        if not plan.helps:
            return
        plans += 1
        for m in plan.moves:
            state.release(m.old)
        for m in plan.moves:
            k = int(m.key)
            state.apply(m.new)
            placement[k] = m.new
            last_move[k] = now
            end_at[k] += move_cost_s
            token[k] += 1
            heapq.heappush(ev, (end_at[k], 0, k, token[k]))
            lost += move_cost_s * jobs[k].gpu_milli / MILLI / 3600
            moves += 1
        for t in plan.targets:
            if t.placement is not None:
                k = targets[t.index]
                start(k, t.placement)
                waiting.remove(k)
                unwait(k)

    while ev and ev[0][0] < horizon:
        now, kind, k, tok = heapq.heappop(ev)
        area += used * (now - last_t)
        last_t = now
        if kind == 0:
            if token.get(k) != tok or k not in placement:
                continue
            state.release(placement.pop(k))
            used -= jobs[k].gpu_milli
        else:
            waiting.append(k)
            shapes[id(jobs[k].req)] = shapes.get(id(jobs[k].req), 0) + 1
        if ev and ev[0][0] <= now:
            continue
        schedule()
        if defrag and now >= next_defrag and waiting:
            run_defrag()
            next_defrag = now + interval_s
        if progress is not None:
            progress(now)
    area += used * (horizon - last_t)
    waits: dict[str, list[float]] = {k: [] for k in KINDS}
    started: dict[str, int] = dict.fromkeys(KINDS, 0)
    for k, job in enumerate(jobs):
        if job.initial or job.arrival >= horizon:
            continue
        if k in start_at:
            waits[job.kind].append(start_at[k] - job.arrival)
            started[job.kind] += 1
        elif k in left_at:
            waits[job.kind].append(left_at[k] - job.arrival)
        else:
            waits[job.kind].append(horizon - job.arrival)
    return DefragResult(
        defrag, rho, offered, horizon, {k: np.array(v) for k, v in waits.items()}, started,
        100.0 * area / (cap * horizon) if cap and horizon else 0.0, moves, lost, plans,
    )


def compare_defrag(
    make: Callable[[], tuple[FleetState, list[DJob], float]], *, horizon: float, rho: float, **kw: float | int | str,
) -> tuple[DefragResult, DefragResult]:
    """The same fleet and job stream without and with defragmentation."""
    state, jobs, offered = make()
    without = simulate_defrag(state, jobs, defrag=False, horizon=horizon, rho=rho, offered=offered, **kw)  # type: ignore[arg-type]
    state, jobs, offered = make()
    with_ = simulate_defrag(state, jobs, defrag=True, horizon=horizon, rho=rho, offered=offered, **kw)  # type: ignore[arg-type]
    return without, with_


__all__ = ["DJob", "DefragResult", "build_jobs", "compare_defrag", "gang_requests", "offered_load",
           "openb_defrag_jobs", "simulate_defrag"]

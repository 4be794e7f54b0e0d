"""Dynamic leasing simulation (BENCHMARKS.md §2): arrivals and departures in simulated time.

Time comes from the event loop (a heap of arrival/departure events), never the wall clock.
Workloads: openb pods with their real lifetimes (``deletion_time − creation_time``), arrival
times rescaled so that the offered GPU load is ``rho`` × capacity; Philly jobs (1–128 GPUs,
gang: all devices at once, in one fabric domain, as ``spread_devices``) likewise rescaled.
Queue: ``fifo`` (head-of-line blocks), ``backfill`` (later jobs may start when the head does
not fit), ``sjf`` (shortest known duration first, with backfill). A job waiting longer than
``patience`` seconds is rejected. Revenue uses a stated price book (per GPU-hour by model;
CPU-only work is priced per core-hour), labelled in the result.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from suanli.scheduler import MILLI, FleetState, Placement, PlacementRequest, get_policy
from suanli.scheduler.frag import TypicalPods

#: ASSUMED price book (USD per GPU-hour by model; CPU-only per core-hour): illustrative only
PRICE_BOOK: dict[str, float] = {
    "G3": 2.50, "G2": 1.80, "V100M32": 1.40, "V100M16": 1.10, "A10": 0.90, "T4": 0.45, "P100": 0.60,
    "A100": 2.00, "H800": 3.50, "L40S": 1.20, "_cpu_core": 0.03, "_default": 1.00,
}


@dataclass(frozen=True)
class Job:
    arrival: float
    duration: float
    req: PlacementRequest
    gpu_milli: int


@dataclass
class DynamicResult:
    policy: str
    queue: str
    rho: float
    jobs: int
    started: int
    rejected: int
    waits: np.ndarray
    times: np.ndarray
    alloc_pct: np.ndarray
    frag_pct: np.ndarray
    revenue: float
    horizon_s: float
    last_arrival: float = 0.0
    price_book: dict[str, float] = field(default_factory=lambda: dict(PRICE_BOOK))

    def summary(self) -> dict[str, float | int | str]:
        w = self.waits if self.waits.size else np.zeros(1)
        # time averages over the arrival window (the drain after the last arrival is left out)
        keep = self.times <= self.last_arrival
        t = self.times[keep]
        dt = np.diff(t, append=self.last_arrival) if t.size else np.zeros(0)
        tavg = float((self.alloc_pct[keep] * dt).sum() / dt.sum()) if dt.sum() > 0 else 0.0
        favg = float((self.frag_pct[keep] * dt).sum() / dt.sum()) if dt.sum() > 0 else 0.0
        return {
            "policy": self.policy, "queue": self.queue, "rho": self.rho, "jobs": self.jobs,
            "started": self.started, "rejected": self.rejected,
            "wait_mean_s": float(w.mean()), "wait_p50_s": float(np.percentile(w, 50)),
            "wait_p99_s": float(np.percentile(w, 99)), "alloc_time_avg_pct": tavg, "frag_time_avg_pct": favg,
            "revenue_usd": round(self.revenue, 2), "horizon_h": self.horizon_s / 3600,
            "price_book": "ASSUMED illustrative USD per GPU-hour by model, CPU-only 0.03/core-hour",
        }


def rescale(arrivals: np.ndarray, durations: np.ndarray, gpu_milli: np.ndarray, rho: float, capacity: float) -> np.ndarray:
    """Stretch/compress inter-arrival times so offered load Σ gpu·duration / span = rho · capacity."""
    order = np.argsort(arrivals, kind="stable")
    a = arrivals[order] - arrivals[order][0]
    frac = a / float(a[-1]) if a[-1] > 0 else np.zeros_like(a)
    g, dur = gpu_milli[order].astype(np.float64), durations[order].astype(np.float64)
    span = float((g * dur).sum()) / (rho * capacity) if rho > 0 else float(a[-1] or 1)
    for _ in range(50):  # only the work inside the arrival window counts (heavy-tailed lifetimes)
        span = max(float((g * np.minimum(dur, span * (1.0 - frac))).sum()) / (rho * capacity), 1.0)
    scale = span / float(a[-1]) if a[-1] > 0 else 1.0
    out = np.empty_like(a, dtype=np.float64)
    out[order] = a * scale
    return out


def simulate(
    state: FleetState, jobs: list[Job], policy: str, queue: str = "backfill", seed: int = 0,
    patience: float = 24 * 3600.0, typical: TypicalPods | None = None, rho: float = 0.0,
) -> DynamicResult:
    pol = get_policy(policy, typical=typical) if typical is not None else get_policy(policy)
    rng = np.random.default_rng(seed)
    cap = float(state.dev_total.sum())
    events: list[tuple[float, int, int]] = []  # (time, kind 0=departure 1=arrival, job index)
    for i, j in enumerate(jobs):
        heapq.heappush(events, (j.arrival, 1, i))
    waiting: list[int] = []
    running: dict[int, Placement] = {}
    waits: list[float] = []
    times: list[float] = []
    alloc: list[float] = []
    frag: list[float] = []
    used = 0.0
    revenue = 0.0
    rejected = 0
    now = 0.0
    model_of = state.model_names

    def price(p: Placement, dur: float, job: Job) -> float:
        if job.gpu_milli == 0:
            return sum(p.cpu_milli) / 1000 * dur / 3600 * PRICE_BOOK["_cpu_core"]
        total = 0.0
        for n, devs, mm in zip(p.nodes, p.devices, p.device_milli, strict=True):
            for d, m in zip(devs, mm, strict=True):
                total += PRICE_BOOK.get(model_of[state.dev_model[n, d]], PRICE_BOOK["_default"]) * m / MILLI
        return total * dur / 3600

    def try_start() -> None:
        nonlocal used, revenue, rejected
        if queue == "sjf":
            waiting.sort(key=lambda k: (jobs[k].duration, k))
        kept: list[int] = []
        blocked = False
        for k in waiting:
            job = jobs[k]
            if now - job.arrival > patience:
                rejected += 1
                continue
            if blocked and queue == "fifo":
                kept.append(k)
                continue
            d = pol.place(state, job.req, rng)
            if isinstance(d, Placement):
                state.apply(d)
                running[k] = d
                used += job.gpu_milli
                waits.append(now - job.arrival)
                revenue += price(d, job.duration, job)
                heapq.heappush(events, (now + job.duration, 0, k))
            else:
                kept.append(k)
                blocked = True
        waiting[:] = kept

    while events:
        now, kind, k = heapq.heappop(events)
        if kind == 0:
            state.release(running.pop(k))
            used -= jobs[k].gpu_milli
        else:
            waiting.append(k)
        if not events or events[0][0] > now:
            try_start()
            times.append(now)
            alloc.append(100.0 * used / cap)
            idle = state.idle_milli
            free_nodes = state.full_free == state.n_devices
            frag.append(100.0 * float(idle[~free_nodes].sum() - 0) / cap if cap else 0.0)
    rejected += len(waiting)
    return DynamicResult(
        policy, queue, rho, len(jobs), len(waits), rejected, np.array(waits), np.array(times),
        np.array(alloc), np.array(frag), revenue, now, max((j.arrival for j in jobs), default=0.0),
    )

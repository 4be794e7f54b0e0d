"""Dynamic leasing simulation (BENCHMARKS.md §2): arrivals and departures in simulated time.

Time comes from the event loop (a heap of events), never the wall clock.

Offered load
------------
The offered GPU load of a job sequence over a horizon ``H`` is the time average, over
``[0, H]``, of the GPU milli that would be busy if every job started on arrival::

    L = Σ_j g_j · |[a_j, a_j + d_j) ∩ [0, H]| / (capacity · H)

Lifetimes in the openb trace are extremely heavy-tailed (median 9 minutes, yet the longest
1 % of pods carry ~90 % of the GPU time), so rescaling the trace's own arrival times cannot
reach a target ``ρ`` inside any window: most of the work of long pods falls outside it.
:func:`stationary_jobs` therefore treats the trace as a distribution and builds a *stationary*
sequence: Poisson arrivals of jobs drawn from the trace (real lifetimes), plus the jobs already
running at time 0 in steady state (drawn with probability ∝ lifetime, with a uniform residual
lifetime, as in an M/G/∞ system). The arrival rate is then calibrated by bisection, with common
random numbers so that ``L`` is monotone in the rate, until ``L`` is within ``tol`` of ``ρ``.

Queues
------
``fifo`` (head-of-line blocks), ``backfill`` (FIFO order, later jobs start when the head does not
fit), ``sjf`` (shortest known duration first, backfill), ``las`` (Tiresias-style discretised
2D-LAS: two priority queues by attained GPU-time, FIFO inside a queue, a job in the upper queue
preempts jobs of the lower queue; preempted jobs resume with their remaining time), ``area``
(ours: smallest remaining GPU-time ``g·d`` first, aged by waiting time, backfill, never
preempts — a lease, once granted, runs to its end). A job waiting longer than ``patience`` is
rejected (the customer leaves).

Metrics over ``[0, H]``: time-averaged allocation, FGD fragmentation ``F`` (typical pods of the
workload, :mod:`suanli.scheduler.frag`) as % of capacity, queueing delay (arrival to first start)
mean / p50 / p99, job completion time of the jobs that finished, rejections, jobs still waiting
at ``H``, and the device time served inside ``[0, H]`` per (node, model) as exact Decimal
device-seconds (:attr:`DynamicResult.served`). Revenue is not priced here: the served time is rated
through the ledger, with a price list of domain objects, by :mod:`suanli.sim.pricing` (the same
rating code as the server's invoices; no second price book). CPU-only jobs hold no device and earn
nothing (the server bills device time).

Cancel: ``cancelled`` is asked at every progress report (and every 4,096 events); when it answers
true the run stops with :class:`SimulationCancelled`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from suanli.errors import ValidationError
from suanli.scheduler import MILLI, FleetState, FragModel, NoFit, Placement, PlacementRequest, get_policy
from suanli.scheduler.base import feasible_nodes
from suanli.scheduler.frag import TypicalPods

QUEUES = ("fifo", "backfill", "sjf", "las", "area")


# ---------------------------------------------------------------------------- offered load
def offered_load(
    arrivals: np.ndarray, durations: np.ndarray, gpu_milli: np.ndarray, capacity_milli: float, horizon: float
) -> float:
    """Time-averaged offered GPU load over ``[0, horizon]`` (fraction of capacity)."""
    if horizon <= 0 or capacity_milli <= 0:
        return 0.0
    a = np.asarray(arrivals, np.float64)
    end = np.minimum(a + np.asarray(durations, np.float64), horizon)
    inside = np.maximum(0.0, end - np.maximum(a, 0.0))
    return float((np.asarray(gpu_milli, np.float64) * inside).sum() / (capacity_milli * horizon))


@dataclass(frozen=True)
class JobStream:
    """A calibrated job sequence: ``pick`` indexes the trace's jobs; ``initial`` jobs run at t=0."""

    arrivals: np.ndarray
    durations: np.ndarray
    pick: np.ndarray
    initial: np.ndarray
    rate_per_s: float
    offered: float
    horizon: float


def stationary_jobs(
    gpu_milli: np.ndarray, durations: np.ndarray, rho: float, capacity_milli: float, horizon: float,
    seed: int = 0, tol: float = 0.005,
) -> JobStream:
    """Jobs drawn from a trace (``gpu_milli``, ``durations`` per trace job) whose offered load over
    ``[0, horizon]`` is ``rho`` within ``tol`` (relative); see the module docstring."""
    g = np.asarray(gpu_milli, np.float64)
    d = np.asarray(durations, np.float64)
    if g.size == 0 or g.shape != d.shape:
        raise ValidationError("stationary_jobs: need one gpu_milli and one duration per trace job", field="jobs")
    if rho <= 0 or horizon <= 0 or capacity_milli <= 0:
        raise ValidationError("stationary_jobs: rho, horizon and capacity must be > 0", field="rho")
    if (d <= 0).any():
        raise ValidationError("stationary_jobs: durations must be > 0", field="durations")
    work = float((g * d).mean())
    if work <= 0:
        raise ValidationError("stationary_jobs: the trace has no GPU work", field="gpu_milli")
    lam0 = rho * capacity_milli / work  # jobs per second for an infinite horizon
    rng = np.random.default_rng(seed)
    hi = 4.0 * lam0
    n_max = int(hi * horizon * 1.3 + 10 * math.sqrt(hi * horizon + 1) + 50)
    gaps = rng.exponential(1.0, n_max).cumsum()  # unit-rate arrival times
    pick_arr = rng.integers(0, g.size, n_max)
    mean_d = float(d.mean())
    n0_max = int(hi * mean_d * 1.3 + 10 * math.sqrt(hi * mean_d + 1) + 50)
    pick_init = rng.choice(g.size, size=n0_max, p=d / d.sum())  # length-biased
    resid = rng.random(n0_max)
    z0 = float(rng.standard_normal())

    def build(lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = int(np.searchsorted(gaps / lam, horizon))
        mean0 = lam * mean_d
        n0 = min(n0_max, max(0, round(mean0 + math.sqrt(mean0) * z0)))
        arr = np.concatenate([np.zeros(n0), gaps[:n] / lam])
        pk = np.concatenate([pick_init[:n0], pick_arr[:n]])
        dur = np.concatenate([np.maximum(d[pick_init[:n0]] * resid[:n0], 1.0), d[pick_arr[:n]]])
        init = np.concatenate([np.ones(n0, bool), np.zeros(n, bool)])
        return arr, dur, pk, init

    def load(lam: float) -> float:
        arr, dur, pk, _ = build(lam)
        return offered_load(arr, dur, g[pk], capacity_milli, horizon)

    lo, hi_l = 0.0, hi
    lam = lam0
    cur = load(lam)
    best = (abs(cur - rho), lam, cur)
    for _ in range(80):
        if abs(cur - rho) <= tol * rho:
            break
        if cur < rho:
            lo = lam
        else:
            hi_l = lam
        lam = 0.5 * (lo + hi_l)
        cur = load(lam)
        best = min(best, (abs(cur - rho), lam, cur))
    _, lam, cur = best  # a small trace moves in steps: keep the closest rate seen
    arr, dur, pk, init = build(lam)
    return JobStream(arr, dur, pk, init, lam, cur, horizon)


# ---------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class Job:
    arrival: float
    duration: float
    req: PlacementRequest
    gpu_milli: int
    initial: bool = False


@dataclass
class DynamicResult:
    policy: str
    queue: str
    rho: float
    offered: float
    horizon_s: float
    jobs: int
    started: int
    completed: int
    rejected: int
    waiting_at_end: int
    preemptions: int
    waits: np.ndarray
    jcts: np.ndarray
    times: np.ndarray
    alloc_pct: np.ndarray
    frag_pct: np.ndarray
    queue_len: np.ndarray
    served: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    """Device-seconds served inside [0, H] per (node index, model code), exact (share applied)."""
    revenue: Decimal | None = None
    """Set by :func:`suanli.sim.pricing.price_run`: the served time rated through the ledger."""
    currency: str = ""
    price_label: str = ""

    @property
    def device_seconds(self) -> Decimal:
        return sum(self.served.values(), Decimal(0))

    def time_avg(self, values: np.ndarray) -> float:
        """Average of a piecewise-constant series (value holds from its time to the next) over [0, H]."""
        if self.times.size == 0 or self.horizon_s <= 0:
            return 0.0
        t = np.clip(self.times, 0.0, self.horizon_s)
        dt = np.diff(np.append(t, self.horizon_s))
        return float((values * dt).sum() / self.horizon_s)

    def summary(self) -> dict[str, float | int | str | None]:
        w = self.waits if self.waits.size else np.zeros(1)
        j = self.jcts if self.jcts.size else np.full(1, np.nan)
        return {
            "policy": self.policy, "queue": self.queue, "rho": self.rho, "offered_load": round(self.offered, 4),
            "horizon_h": self.horizon_s / 3600, "jobs": self.jobs, "started": self.started,
            "completed": self.completed, "rejected": self.rejected, "waiting_at_end": self.waiting_at_end,
            "preemptions": self.preemptions,
            "alloc_time_avg_pct": round(self.time_avg(self.alloc_pct), 3),
            "frag_time_avg_pct": round(self.time_avg(self.frag_pct), 3),
            "wait_mean_s": float(w.mean()), "wait_p50_s": float(np.percentile(w, 50)),
            "wait_p99_s": float(np.percentile(w, 99)),
            "jct_mean_s": float(np.mean(j)), "jct_p50_s": float(np.percentile(j, 50)),
            "jct_p99_s": float(np.percentile(j, 99)),
            "device_hours_served": str((self.device_seconds / 3600).quantize(Decimal("0.001"))),
            "revenue": None if self.revenue is None else str(self.revenue), "currency": self.currency,
            "price_list": self.price_label,
        }


class SimulationCancelled(Exception):
    """The run's ``cancelled`` check answered true; the partial state is dropped."""


def seconds(t: float) -> Decimal:
    """A simulated duration as an exact Decimal of whole milliseconds (the event times are floats;
    money never is: served time is converted here, once per segment)."""
    return Decimal(round(t * 1000)) / 1000


class _Run:
    """Mutable bookkeeping of one running/waiting job."""

    __slots__ = ("done_s", "first_start", "placement", "seg_start", "token")

    def __init__(self) -> None:
        self.done_s = 0.0  # executed seconds before the current segment
        self.seg_start = -1.0
        self.first_start = -1.0
        self.placement: Placement | None = None
        self.token = 0  # invalidates stale departure events after a preemption


def simulate(
    state: FleetState, jobs: Sequence[Job], policy: str, queue: str = "backfill", *, horizon: float,
    seed: int = 0, patience: float = 6 * 3600.0, typical: TypicalPods | None = None, rho: float = 0.0,
    offered: float = 0.0, las_threshold_gpu_s: float = 3600.0, las_quantum_s: float = 600.0,
    aging_s: float = 3600.0, max_preempt_tries: int = 4,
    progress: Callable[[float], None] | None = None, cancelled: Callable[[], bool] | None = None,
) -> DynamicResult:
    """Run ``jobs`` (sorted by arrival) on ``state`` until ``horizon`` seconds."""
    if queue not in QUEUES:
        raise ValidationError(f"unknown queue {queue!r}; allowed: {', '.join(QUEUES)}", field="queue", allowed=list(QUEUES))
    pol = get_policy(policy, typical=typical) if typical is not None else get_policy(policy)
    rng = np.random.default_rng(seed)
    cap = float(state.dev_total.sum())
    frag_model = FragModel(typical, state) if typical is not None and typical.covered > 0 else None
    frag_nodes = frag_model.node_frag(state, np.arange(state.num_nodes)) if frag_model else None
    frag_ver = state.node_version.copy()

    ev: list[tuple[float, int, int, int]] = []  # (time, kind 0=end 1=arrival 2=tick, job, token)
    for i, j in enumerate(jobs):
        if j.arrival < horizon:
            heapq.heappush(ev, (j.arrival, 1, i, 0))
    if queue == "las":
        t = las_quantum_s
        while t < horizon:
            heapq.heappush(ev, (t, 2, -1, 0))
            t += las_quantum_s
    runs: dict[int, _Run] = {}
    waiting: list[int] = []
    running: set[int] = set()
    waits: list[float] = []
    jcts: list[float] = []
    times: list[float] = []
    alloc: list[float] = []
    frag: list[float] = []
    qlen: list[int] = []
    used = 0.0
    served_ds: dict[tuple[int, int], Decimal] = {}
    rejected = completed = preemptions = n_started = 0
    now = 0.0
    evicted: list[int] = []
    next_patience_check = [0.0]

    def account(p: Placement, secs: Decimal) -> None:
        """Add the device time of one served segment (Decimal device-seconds, share applied)."""
        if secs <= 0:
            return
        for n, devs, mm in zip(p.nodes, p.devices, p.device_milli, strict=True):
            for d, m in zip(devs, mm, strict=True):
                key = (int(n), int(state.dev_model[n, d]))
                served_ds[key] = served_ds.get(key, Decimal(0)) + secs * m / MILLI

    def remaining(k: int) -> float:
        return jobs[k].duration - runs[k].done_s

    def attained(k: int) -> float:
        r = runs[k]
        done = r.done_s + (now - r.seg_start if k in running else 0.0)
        return done * jobs[k].gpu_milli / MILLI

    def start(k: int, p: Placement) -> None:
        nonlocal used, n_started
        state.apply(p)
        r = runs[k]
        r.placement, r.seg_start = p, now
        if r.first_start < 0:
            r.first_start = now
            n_started += 1
            if not jobs[k].initial:
                waits.append(now - jobs[k].arrival)
        running.add(k)
        used += jobs[k].gpu_milli
        heapq.heappush(ev, (now + remaining(k), 0, k, r.token))

    def stop(k: int) -> None:
        """Take ``k`` off its devices (end or preemption), accounting served time."""
        nonlocal used
        r = runs[k]
        assert r.placement is not None
        state.release(r.placement)
        served = now - r.seg_start
        account(r.placement, seconds(now) - seconds(r.seg_start))
        r.done_s += served
        r.placement = None
        r.token += 1
        running.discard(k)
        used -= jobs[k].gpu_milli

    def key(k: int) -> tuple[float, ...]:
        job = jobs[k]
        if queue == "sjf":
            return (remaining(k), job.arrival, k)
        if queue == "area":
            wait = max(0.0, now - job.arrival)
            area = max(job.gpu_milli, 1) / MILLI * remaining(k)
            return (area / (1.0 + wait / aging_s), job.arrival, k)
        if queue == "las":
            return (1.0 if attained(k) >= las_threshold_gpu_s else 0.0, job.arrival, k)
        return (job.arrival, k)

    def dominated(req: PlacementRequest, dims: list[tuple[int, int, int, int]]) -> bool:
        """A request at least as large as one that just found no room finds none either."""
        if not dims or req.allowed_models is not None or req.allowed_sites is not None or req.whole_node:
            return False
        if req.gang_nodes or req.spread_devices:
            return False
        n, m = req.num_devices, (req.device_milli if req.num_devices else 0)
        for fn, fm, fc, fmem in dims:
            # whole devices: more devices and more CPU; a share: more milli and more CPU
            same_kind = (n == 0 and fn == 0) or (n >= 1 and fn >= 1 and (m == MILLI) == (fm == MILLI))
            if same_kind and n >= fn and m >= fm and req.cpu_milli >= fc and req.mem_mib >= fmem:
                return True
        return False

    def try_preempt(k: int) -> bool:
        """Tiresias: a job of the upper queue may evict jobs of the lower queue."""
        nonlocal preemptions
        mine = key(k)[0]
        victims = sorted((v for v in running if key(v)[0] > mine), key=key, reverse=True)
        if not victims:
            return False
        taken: list[tuple[int, Placement]] = []
        need = jobs[k].gpu_milli
        freed = 0
        for v in victims:
            p = runs[v].placement
            assert p is not None
            state.release(p)
            taken.append((v, p))
            freed += jobs[v].gpu_milli
            if freed < need:
                continue  # not enough GPU released yet for the job to fit anywhere new
            d = pol.place(state, jobs[k].req, rng)
            if isinstance(d, Placement):
                for v2, p2 in taken:  # make the evictions real (bookkeeping), then start k
                    state.apply(p2)
                    stop(v2)
                    evicted.append(v2)
                    preemptions += 1
                start(k, d)
                return True
        for _, p in reversed(taken):
            state.apply(p)
        return False

    def schedule(preempt_now: bool = False) -> None:
        """One pass over the queue; LAS preempts only at its quantum ticks (``preempt_now``)."""
        nonlocal rejected
        kept: list[int] = []
        order = sorted(waiting, key=key) if queue not in ("fifo", "backfill") else list(waiting)
        blocked = False
        tries = 0
        # capacity only shrinks during a pass: a request shape that found no room stays without
        failed: set[int] = set()
        failed_dims: list[tuple[int, int, int, int]] = []
        n_shapes = len({id(jobs[k].req) for k in order})
        full_scan = now >= next_patience_check[0]
        if full_scan:  # patience is checked for every waiting job once per simulated minute
            next_patience_check[0] = now + 60.0
        for i, k in enumerate(order):
            if not full_scan and len(failed) >= n_shapes and not (queue == "las" and preempt_now):
                kept.extend(order[i:])  # every waiting shape already found no room
                break
            if now - jobs[k].arrival > patience and runs[k].first_start < 0:
                rejected += 1
                del runs[k]
                continue
            if blocked and queue == "fifo":
                kept.append(k)
                continue
            req = jobs[k].req
            shape = id(req)
            if (shape in failed or dominated(req, failed_dims)) and not (queue == "las" and preempt_now and tries < max_preempt_tries):
                kept.append(k)
                continue
            simple = not (req.gang_nodes or req.spread_devices)
            if simple and not feasible_nodes(state, req).any():
                d: Placement | NoFit = NoFit("")  # skip the policy and the explanation
            else:
                d = pol.place(state, req, rng)
            if isinstance(d, Placement):
                start(k, d)
                continue
            if queue == "las" and preempt_now and tries < max_preempt_tries:
                tries += 1
                if try_preempt(k):
                    continue
            failed.add(shape)
            if simple and req.allowed_models is None and req.allowed_sites is None and not req.whole_node:
                failed_dims.append((req.num_devices, req.device_milli if req.num_devices else 0, req.cpu_milli, req.mem_mib))
            kept.append(k)
            blocked = True
        waiting[:] = kept + evicted
        evicted.clear()

    def record() -> None:
        times.append(now)
        alloc.append(100.0 * used / cap if cap else 0.0)
        qlen.append(len(waiting))
        if frag_model is not None and frag_nodes is not None and frag_model.covered > 0:
            stale = np.flatnonzero(frag_ver != state.node_version)
            if stale.size:
                frag_nodes[stale] = frag_model.node_frag(state, stale)
                frag_ver[stale] = state.node_version[stale]
            frag.append(100.0 * float(frag_nodes.sum()) / frag_model.covered / cap)
        else:
            frag.append(0.0)

    record()
    next_progress = 0.0
    tick = False
    n_events = 0
    while ev and ev[0][0] < horizon:
        now, kind, k, token = heapq.heappop(ev)
        n_events += 1
        if cancelled is not None and n_events % 4096 == 0 and cancelled():
            raise SimulationCancelled(f"cancelled at simulated second {now:.0f} of {horizon:.0f}")
        if kind == 0:
            if k not in running or runs[k].token != token:
                continue  # a departure of a preempted segment
            stop(k)
            completed += 1
            if not jobs[k].initial:
                jcts.append(now - jobs[k].arrival)
            del runs[k]
        elif kind == 1:
            runs[k] = _Run()
            waiting.append(k)
        tick = tick or kind == 2
        if ev and ev[0][0] <= now:
            continue  # handle every event of this instant before scheduling
        schedule(preempt_now=tick)
        tick = False
        record()
        if progress is not None and now >= next_progress:
            if cancelled is not None and cancelled():
                raise SimulationCancelled(f"cancelled at simulated second {now:.0f} of {horizon:.0f}")
            progress(now)
            next_progress = now + horizon / 200
    now = horizon
    for k in list(running):  # bill what was served up to the horizon
        stop(k)
    waiting_end = sum(1 for k in waiting if k in runs)
    if progress is not None:
        progress(horizon)
    return DynamicResult(
        policy, queue, rho, offered, horizon, sum(1 for j in jobs if j.arrival < horizon), n_started,
        completed, rejected, waiting_end, preemptions, np.array(waits),
        np.array(jcts), np.array(times), np.array(alloc), np.array(frag), np.array(qlen), served_ds,
    )

"""Dynamic-mode scenarios built from the traces: openb pods with their real lifetimes, and
Philly gang jobs, each turned into a stationary job stream at offered load ``rho``
(:func:`suanli.sim.dynamic.stationary_jobs`). Pure: takes parsed tables, returns objects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanli.errors import ValidationError
from suanli.scheduler import FleetState, PlacementRequest, TypicalPod, TypicalPods
from suanli.sim.dynamic import Job, JobStream, stationary_jobs
from suanli.sim.fgd import build_fleet, pod_requests, typical_pods
from suanli.sim.traces import NodeTable, PhillyTable, PodTable

#: CPU given to each GPU of a Philly job (the trace has no CPU column); nodes per fabric domain
PHILLY_CPU_PER_GPU = 4000
NODES_PER_FABRIC = 16


@dataclass(frozen=True)
class Scenario:
    state: FleetState
    jobs: list[Job]
    typical: TypicalPods
    stream: JobStream


def _fleet(nodes: NodeTable) -> FleetState:
    state = build_fleet(nodes)
    state.fabric[:] = np.arange(state.num_nodes) // NODES_PER_FABRIC
    return state


def openb_scenario(nodes: NodeTable, pods: PodTable, rho: float, horizon_s: float, seed: int = 0) -> Scenario:
    if pods.creation_time is None or pods.deletion_time is None:
        raise ValidationError(f"{pods.path}: dynamic mode needs creation_time and deletion_time columns", path=pods.path)
    state = _fleet(nodes)
    dur = (pods.deletion_time - pods.creation_time).astype(np.float64)
    ok = np.flatnonzero(dur > 0)
    if ok.size == 0:
        raise ValidationError(f"{pods.path}: no pod with deletion_time after creation_time", path=pods.path)
    gpu = (pods.num_gpu * pods.gpu_milli)[ok].astype(np.float64)
    stream = stationary_jobs(gpu, dur[ok], rho, float(state.dev_total.sum()), horizon_s, seed)
    reqs = pod_requests(pods, state)
    jobs = [
        Job(float(a), float(d), reqs[int(ok[p])], int(gpu[p]), bool(i))
        for a, d, p, i in zip(stream.arrivals, stream.durations, stream.pick, stream.initial, strict=True)
    ]
    jobs.sort(key=lambda j: j.arrival)
    return Scenario(state, jobs, typical_pods(pods), stream)


def philly_request(gpus: int) -> PlacementRequest:
    """k ≤ 8 GPUs on one node; larger jobs spread whole devices over the fewest nodes of one domain."""
    if gpus <= 8:
        return PlacementRequest(cpu_milli=PHILLY_CPU_PER_GPU * gpus, num_devices=gpus)
    return PlacementRequest(cpu_milli=PHILLY_CPU_PER_GPU, spread_devices=gpus)


def philly_typical(ph: PhillyTable) -> TypicalPods:
    g = np.minimum(ph.num_gpus, 8)
    specs = (TypicalPod(PHILLY_CPU_PER_GPU * int(k), int(k), 1000, None, 1.0, "") for k in g)
    return TypicalPods.from_specs(specs)


def philly_scenario(nodes: NodeTable, ph: PhillyTable, rho: float, horizon_s: float, seed: int = 0) -> Scenario:
    state = _fleet(nodes)
    ok = np.flatnonzero(ph.duration_s > 0)
    if ok.size == 0:
        raise ValidationError(f"{ph.path}: no job with a positive duration", path=ph.path)
    gpus = ph.num_gpus[ok]
    stream = stationary_jobs(gpus * 1000.0, ph.duration_s[ok], rho, float(state.dev_total.sum()), horizon_s, seed)
    cache: dict[int, PlacementRequest] = {}
    jobs = []
    for a, d, p, i in zip(stream.arrivals, stream.durations, stream.pick, stream.initial, strict=True):
        k = int(gpus[p])
        req = cache.get(k)
        if req is None:
            req = cache[k] = philly_request(k)
        jobs.append(Job(float(a), float(d), req, k * 1000, bool(i)))
    jobs.sort(key=lambda j: j.arrival)
    return Scenario(state, jobs, philly_typical(ph), stream)

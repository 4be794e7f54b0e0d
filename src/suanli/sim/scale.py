"""Synthetic scale run: a big homogeneous-ish fleet and a stream of mixed requests with churn.

``run_scale`` builds ``nodes`` nodes × ``devices`` devices (three models, 64–128 cores), then
issues ``requests`` placements drawn from a fixed mix (CPU-only, shares, 1/2/4/8 whole
devices); whenever more than ``target_util`` of the GPUs are taken, a random earlier placement
is released first, so the fleet stays busy and fragmented. Reports placements per second
(decisions, whether they fit or not, over the time spent inside ``policy.place``: wall time, and
this process's CPU time, which other work on a shared machine disturbs less).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from suanli.scheduler import (
    FleetState,
    NodeScorePolicy,
    Placement,
    PlacementRequest,
    TypicalPod,
    TypicalPods,
    get_policy,
)

MIX: tuple[tuple[PlacementRequest, float], ...] = (
    (PlacementRequest(cpu_milli=4000), 0.12),
    (PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=250), 0.10),
    (PlacementRequest(cpu_milli=6000, num_devices=1, device_milli=500), 0.15),
    (PlacementRequest(cpu_milli=3000, num_devices=1, device_milli=810), 0.10),
    (PlacementRequest(cpu_milli=12000, num_devices=1), 0.35),
    (PlacementRequest(cpu_milli=24000, num_devices=2), 0.08),
    (PlacementRequest(cpu_milli=48000, num_devices=4), 0.06),
    (PlacementRequest(cpu_milli=80000, num_devices=8), 0.04),
)


@dataclass(frozen=True)
class ScaleResult:
    policy: str
    nodes: int
    devices: int
    requests: int
    placed: int
    seconds: float
    #: CPU time of this process inside ``policy.place`` (steadier than wall time on a shared machine)
    cpu_seconds: float = 0.0
    engine: str = "fast"

    @property
    def placements_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else float("inf")

    @property
    def placements_per_cpu_s(self) -> float:
        return self.requests / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


def synthetic_fleet(nodes: int, devices: int, seed: int = 0) -> FleetState:
    rng = np.random.default_rng(seed)
    models = np.array(["A100", "H800", "L40S"])
    which = rng.choice(3, size=nodes, p=[0.5, 0.3, 0.2])
    cpu = rng.choice([64000, 96000, 128000], size=nodes)
    return FleetState.from_nodes(
        [f"node-{i:05d}" for i in range(nodes)],
        cpu.tolist(),
        [[str(models[w])] * devices for w in which],
        fabric=(np.arange(nodes) // 32).tolist(),
    )


def mix_typical() -> TypicalPods:
    return TypicalPods(
        tuple(TypicalPod(r.cpu_milli, r.num_devices, r.device_milli if r.num_devices else 0, None, w * 100) for r, w in MIX)
    )


def run_scale(
    policy: str = "fgd", nodes: int = 5000, devices: int = 8, requests: int = 100_000, seed: int = 0,
    target_util: float = 0.85, engine: str = "fast",
) -> ScaleResult:
    """``engine``: the policy's engine, "fast" or "reference" (see :class:`NodeScorePolicy`)."""
    state = synthetic_fleet(nodes, devices, seed)
    pol = get_policy(policy, typical=mix_typical())
    if isinstance(pol, NodeScorePolicy):
        pol.engine = engine
    rng = np.random.default_rng(seed + 1)
    probs = np.array([w for _, w in MIX])
    draws = rng.choice(len(MIX), size=requests, p=probs / probs.sum())
    live: list[Placement] = []
    cap = float(state.dev_total.sum())
    used = 0
    placed = 0
    spent = 0.0
    cpu = 0.0
    for i in draws.tolist():
        while live and used > target_util * cap:
            j = int(rng.integers(len(live)))
            gone = live[j]
            live[j] = live[-1]
            live.pop()
            state.release(gone)
            used -= gone.gpu_milli
        t0, c0 = time.perf_counter(), time.process_time()
        d = pol.place(state, MIX[i][0], rng)
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
        if isinstance(d, Placement):
            state.apply(d)
            live.append(d)
            used += d.gpu_milli
            placed += 1
    return ScaleResult(policy, nodes, devices, requests, placed, spent, cpu, engine)

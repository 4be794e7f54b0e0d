"""Where a run of the FGD protocol loses allocation: one seed of one policy replayed to 130 %
arrived, with the refused pods by shape, the free capacity left at the end (idle devices by node
shape, and the share combinations of the partly used devices with the milli they leave), and a
bound for *any* policy that places every pod that fits.

The bound: at the end every unallocated milli lies either on idle devices or in the gaps of
partly used devices. A policy that places every pod that fits places every share that arrives
while the fleet still has room for it, so the set of shares it places is (up to the last few
around saturation) the set that arrived; the fewest devices that set can be packed into is at
least the configuration LP's value (:func:`suanli.scheduler.policies.shareprices.share_prices`,
``Σ_s n_s·y_s`` at the optimal duals). ``repack_bound_pct`` is ``100 − idle − LP waste``: what
the same run would reach if its shares had been packed perfectly, fractionally, with nothing
else changed. On ``default`` it lies ~0.1 pp above fgd+ (docs/placement.md, "Where default
loses at 130 %").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest
from suanli.scheduler.policies.shareprices import share_prices
from suanli.scheduler.types import MILLI
from suanli.sim.fgd import run_fgd
from suanli.sim.traces import NodeTable, PodTable


@dataclass(frozen=True)
class RefusedShape:
    """Pods of one shape refused over the run."""

    num_devices: int
    device_milli: int  # per device (1000 for whole devices)
    cpu_milli: int
    models: tuple[str, ...] | None  # allowed models; None: any
    pods: int
    gpu_milli: int


@dataclass(frozen=True)
class GapCombo:
    """Partly used devices holding the same shares (milli, largest first) at the end."""

    shares: tuple[int, ...]
    devices: int
    free_milli: int  # summed over the devices


@dataclass(frozen=True)
class IdleShape:
    """Nodes with idle devices at the end, by model, devices, idle devices and free cores."""

    model: str
    devices: int
    idle: int
    cpu_free_cores: int
    nodes: int


@dataclass(frozen=True)
class Anatomy:
    workload: str
    policy: str
    seed: int
    capacity_milli: int
    first_refusal_pct: float | None  # arrived % when the first GPU pod was refused
    used_100_pct: float
    used_final_pct: float
    refused: tuple[RefusedShape, ...]  # most GPU milli first
    combos: tuple[GapCombo, ...]  # most free milli first
    idle: tuple[IdleShape, ...]  # most idle devices first
    idle_pct: float
    gap_pct: float
    share_devices: int
    lp_share_devices: float

    def pct(self, milli: float) -> float:
        return 100.0 * milli / self.capacity_milli if self.capacity_milli else 0.0

    @property
    def lp_gap_pct(self) -> float:
        """Gap milli of a fractional optimal packing of the same shares, % of the fleet."""
        return self.gap_pct - self.pct((self.share_devices - self.lp_share_devices) * MILLI)

    @property
    def repack_bound_pct(self) -> float:
        return 100.0 - self.idle_pct - self.lp_gap_pct


class _Recorder:
    def __init__(self) -> None:
        self.devices: dict[tuple[int, int], list[int]] = {}
        self.refused: Counter[tuple[int, int, int, tuple[str, ...] | None]] = Counter()
        self.refused_milli: Counter[tuple[int, int, int, tuple[str, ...] | None]] = Counter()
        self.first_refusal: int | None = None
        self.used_100: int | None = None
        self.used = 0

    def __call__(self, state: FleetState, req: PlacementRequest, d: Placement | NoFit, arrived: int) -> None:
        cap = int(state.dev_total.sum())
        gpu = req.num_devices * req.device_milli
        if isinstance(d, Placement):
            self.used += d.gpu_milli
            if req.is_share:
                self.devices.setdefault((d.nodes[0], d.devices[0][0]), []).append(req.device_milli)
        else:
            models = None if req.allowed_models is None else tuple(sorted(state.model_names[m] for m in req.allowed_models))
            key = (req.num_devices, req.device_milli if req.num_devices else 0, req.cpu_milli, models)
            self.refused[key] += 1
            self.refused_milli[key] += gpu
            if gpu > 0 and self.first_refusal is None:
                self.first_refusal = arrived
        if self.used_100 is None and arrived >= cap:
            self.used_100 = self.used


def anatomy(nodes: NodeTable, pods: PodTable, policy: str, seed: int, ratio: float = 1.3) -> Anatomy:
    """Replay ``policy`` on ``pods`` with ``seed`` (the protocol of :func:`suanli.sim.fgd.run_fgd`)
    and take the end state apart (see the module docstring)."""
    rec = _Recorder()
    holder: list[FleetState] = []

    def observe(state: FleetState, req: PlacementRequest, d: Placement | NoFit, arrived: int) -> None:
        if not holder:
            holder.append(state)
        rec(state, req, d, arrived)

    run = run_fgd(nodes, pods, policy, seed, ratio=ratio, track_frag=False, observe=observe)
    cap = run.capacity_milli
    state = holder[0]
    free = state.dev_free_milli
    combos: Counter[tuple[int, ...]] = Counter()
    combo_free: Counter[tuple[int, ...]] = Counter()
    placed: Counter[int] = Counter()
    for (n, dv), shares in rec.devices.items():
        key = tuple(sorted(shares, reverse=True))
        combos[key] += 1
        combo_free[key] += max(int(free[n, dv]), 0)
        placed.update(shares)
    idle: Counter[tuple[str, int, int, int]] = Counter()
    idle_milli = 0
    for n in range(state.num_nodes):
        k = int(state.n_devices[n])
        if k == 0:
            continue
        whole = int((free[n, :k] >= MILLI).sum())
        if whole:
            idle[(state.model_names[int(state.dev_model[n, 0])], k, whole, int(state.cpu_free_milli[n]) // 1000)] += 1
            idle_milli += whole * MILLI
    gap_milli = sum(combo_free.values())
    lp = 0.0
    if placed:
        sizes = np.array(sorted(placed), np.int64)
        counts = np.array([placed[int(s)] for s in sizes], np.float64)
        lp = float((counts * share_prices(sizes, counts)).sum())
    refused = sorted(
        (RefusedShape(k[0], k[1], k[2], k[3], c, rec.refused_milli[k]) for k, c in rec.refused.items()),
        key=lambda r: (-r.gpu_milli, -r.pods, r.num_devices, r.device_milli, r.cpu_milli),
    )
    out_combos = sorted(
        (GapCombo(k, c, combo_free[k]) for k, c in combos.items() if combo_free[k] > 0),
        key=lambda g: (-g.free_milli, g.shares),
    )
    out_idle = sorted((IdleShape(*k, c) for k, c in idle.items()), key=lambda s: (-s.idle * s.nodes, s.model, s.cpu_free_cores))

    def pct(m: float) -> float:
        return 100.0 * m / cap if cap else 0.0

    return Anatomy(
        pods.workload, policy, seed, cap,
        None if rec.first_refusal is None else pct(rec.first_refusal),
        pct(rec.used_100 if rec.used_100 is not None else rec.used), pct(rec.used),
        tuple(refused), tuple(out_combos), tuple(out_idle), pct(idle_milli), pct(gap_milli), len(rec.devices), lp,
    )

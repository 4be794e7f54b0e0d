"""FGD+ — our policy: FGD's fragmentation gradient, measured exactly, with a CPU-stranding term,
an LP-priced gap value for shares of a device, and packing tie-breaks.

Formulation (extends Weng et al., USENIX ATC '23):

* Score ``−ΔF_n`` where ``ΔF_n = F_n' − F_n`` is the exact change of the node's fragmentation
  against the typical-pod set (FGD truncates ``100·sigmoid(−ΔF/1000)`` to an integer, which
  makes changes below ~40 milli indistinguishable; ``exact=False`` restores that).
* Typical pods weighted by GPU demand as well as by count (``gpu_weight``): a pod asking for
  8 GPUs is rare by count but holds a large share of the GPUs.
* CPU stranding (``cpu_weight``): GPU milli a node can no longer use because its free CPU is
  short at the workload's CPU-per-GPU ratio, ``max(0, idle − cpu_free / r)``, is added to F.
* Gap value for a share of a device (``fill_mode="lp"``, default, weight ``fill_weight`` 16):
  the configuration LP of the workload's typical shares (Gilmore–Gomory, solved by column
  generation in :mod:`suanli.scheduler.policies.shareprices`) prices every share size in
  devices; a gap of ``f`` free milli is worth ``W(f) = f − 1000·P(f)``, the milli an optimal
  packing of the mix would still leave in it (``P``: the best total price that fits in ``f``).
  ``ΔW = W(f − s) − W(f)`` of the chosen device is added to ``ΔF``: a share goes where it is
  part of the gap's best completion (a 320 into the 350 left by a 650, not a 230 that would
  leave 120 that nothing of the mix fills).
* ``fill_mode="lookahead"`` (the previous term, weight 4): ``V(f) = (1 − q)·f + q·E[V(f − s)]``
  with ``q`` the (``fill_alpha``-scaled) probability that the next typical device request fits
  in ``f`` and ``s`` its size; it overvalues a gap any common share fits in, whatever it leaves.
* Ties: CPU-only pods go to the node whose CPU *surplus* (free CPU beyond what its idle GPUs
  need at the ratio ``r``) fits them most tightly (``cpu_only_fit="surplus"``), so that large
  surplus blocks stay whole for large CPU-only pods instead of being taken from idle 8-GPU
  nodes (where they strand GPUs); ``"spread"`` (the previous rule) prefers where GPUs are
  taken and the most CPU is left. GPU pods to the node that
  stays balanced between CPU and GPU and leaves the least (best fit); then the cheapest device
  when the fleet has costs; then the lowest index. A share goes to the device with the lowest
  combined increase, then the lowest index.

It looks only at the current fleet and the workload's typical shapes (the typical-pod set of
the original pod list, as FGD), never at later requests; every request that fits is placed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.errors import ValidationError
from suanli.scheduler.base import node_unit_cost
from suanli.scheduler.frag import TypicalPod, TypicalPods
from suanli.scheduler.policies.fgd import FGDPolicy
from suanli.scheduler.policies.shareprices import gap_potential, share_prices
from suanli.scheduler.policies.simple import max_specs, request_gpu_milli
from suanli.scheduler.types import MILLI, FleetState, PlacementRequest


def demand_weighted(typical: TypicalPods, gpu_weight: float) -> TypicalPods:
    """Re-weight each typical pod by ``count · (1 + gpu_weight · gpus)``."""
    if gpu_weight <= 0:
        return typical
    pods = tuple(
        TypicalPod(
            p.cpu_milli,
            p.num_devices,
            p.device_milli,
            p.allowed_models,
            p.count * (1.0 + gpu_weight * (p.num_devices * p.device_milli / 1000.0)),
            p.label,
        )
        for p in typical.pods
    )
    return TypicalPods(pods)


def fill_value(typical: TypicalPods, alpha: float = 4.0) -> np.ndarray:
    """``V[f]`` for ``f`` = 0..1000 free milli on one device: expected milli left unused after
    later typical device requests fill it (see the module docstring)."""
    sizes: list[int] = []
    weights: list[float] = []
    for p in typical.pods:
        if p.num_devices <= 0:
            continue
        sizes.append(p.device_milli if p.num_devices == 1 else MILLI)
        weights.append(p.count * max(p.num_devices, 1))
    v = np.arange(MILLI + 1, dtype=np.float64)
    if not sizes:
        return v
    s = np.array(sizes, dtype=np.int64)
    w = np.array(weights, dtype=np.float64)
    w /= w.sum()
    for f in range(MILLI + 1):
        fit = s <= f
        q = float(w[fit].sum())
        if q <= 0.0:
            continue
        ev = float((w[fit] * v[f - s[fit]]).sum()) / q
        q = min(1.0, alpha * q)
        v[f] = (1.0 - q) * f + q * ev
    return v


#: fill terms and their default weights: LP term 16 (start of the plateau 16–64 on default),
#: lookahead 4 (its best weight on default)
FILL_MODES = {"lp": 16.0, "lookahead": 4.0}
#: tie-break of CPU-only pods: best fit on CPU surplus (default), or the previous "spread"
#: (where GPUs are taken and the most CPU is left)
CPU_ONLY_FITS = ("surplus", "spread")


def lp_gap_waste(typical: TypicalPods) -> np.ndarray:
    """``W[f]`` for ``f`` = 0..1000: milli of a gap an optimal packing of the share mix leaves unused
    (see :mod:`suanli.scheduler.policies.shareprices`)."""
    mix: dict[int, float] = {}
    for p in typical.pods:
        if p.num_devices == 1 and 0 < p.device_milli < MILLI:
            mix[p.device_milli] = mix.get(p.device_milli, 0.0) + p.count
    f = np.arange(MILLI + 1, dtype=np.float64)
    if not mix:
        return f
    sizes = np.array(sorted(mix), np.int64)
    prices = share_prices(sizes, np.array([mix[int(x)] for x in sizes]))
    out: np.ndarray = f - MILLI * gap_potential(sizes, prices)
    return out


class FGDPlusPolicy(FGDPolicy):
    name: str = "fgd+"

    def __init__(
        self,
        typical: TypicalPods | None = None,
        *,
        tolerance: float = 0.0,
        gpu_weight: float = 0.5,
        cpu_weight: float = 0.5,
        fill_weight: float | None = None,
        fill_alpha: float = 4.0,
        exact: bool = True,
        fill_mode: str = "lp",
        cpu_only_fit: str = "surplus",
        **_: Any,
    ) -> None:
        super().__init__(demand_weighted(typical, gpu_weight) if typical is not None else None)
        self.tolerance = tolerance
        self.exact = exact
        self.cpu_weight = cpu_weight
        if cpu_only_fit not in CPU_ONLY_FITS:
            raise ValidationError(
                f"fgd+ cpu_only_fit {cpu_only_fit!r} is unknown; allowed: {', '.join(CPU_ONLY_FITS)}", field="cpu_only_fit"
            )
        self.cpu_only_fit = cpu_only_fit
        if fill_mode not in FILL_MODES:
            raise ValidationError(f"fgd+ fill_mode {fill_mode!r} is unknown; allowed: {', '.join(FILL_MODES)}", field="fill_mode")
        self.fill_mode = fill_mode
        if fill_mode == "lp":
            # the LP prices the mix by frequency, so it takes the counts before demand weighting
            base = typical if typical is not None else self.typical
            self.fill = lp_gap_waste(base)
        else:
            self.fill = fill_value(self.typical, fill_alpha)
        self.fill_weight = FILL_MODES[fill_mode] if fill_weight is None else fill_weight
        gpu_pods = [p for p in self.typical.pods if p.num_devices > 0]
        demand = sum(p.count * p.num_devices * p.device_milli for p in gpu_pods)
        self.cpu_per_gpu_milli = sum(p.count * p.cpu_milli for p in gpu_pods) / demand if demand else 0.0

    def _stranded(self, idle: np.ndarray, cpu: np.ndarray) -> np.ndarray:
        """GPU milli a node cannot use for lack of CPU at the workload's CPU-per-GPU ratio."""
        if self.cpu_per_gpu_milli <= 0:
            return np.zeros(np.shape(idle))
        out: np.ndarray = np.maximum(0.0, idle - np.maximum(cpu, 0) / self.cpu_per_gpu_milli)
        return out

    def delta_scores(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta, valid = super().delta_scores(state, req, rows)
        if self._model is None:
            return delta, valid
        cov = self._model.covered
        if self.cpu_weight > 0:
            idle = state.idle_milli[rows].astype(np.float64)
            cpu = state.cpu_free_milli[rows].astype(np.float64)
            if req.whole_node:
                after = np.zeros(rows.size)
            else:
                after = self._stranded(idle - request_gpu_milli(req), cpu - req.cpu_milli)
            pen = self.cpu_weight * cov * (after - self._stranded(idle, cpu))
            delta = delta + (pen[:, None] if delta.ndim == 2 else pen)
        if self.fill_weight > 0 and req.is_share and delta.ndim == 2:
            f = state.dev_free_milli[rows].astype(np.int64)
            f2 = np.clip(f - req.device_milli, 0, MILLI)
            f = np.clip(f, 0, MILLI)
            delta = delta + self.fill_weight * cov * (self.fill[f2] - self.fill[f])
        return delta, valid

    def _int_score(self, delta: np.ndarray) -> np.ndarray:
        if not self.exact:
            return super()._int_score(delta)
        cov = self._model.covered if self._model is not None else 1.0
        out: np.ndarray = -delta / cov if cov > 0 else np.zeros_like(delta)
        return out

    def _pick(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, sc: np.ndarray, rng: np.random.Generator
    ) -> tuple[int, str]:
        best = sc.max()
        ties = np.flatnonzero(sc >= best - self.tolerance)
        if ties.size == 1:
            return int(ties[0]), ""
        cpu_max, gpu_max = max_specs(state)
        nodes = cand[ties]
        cpu_left = state.cpu_free_milli[nodes] - req.cpu_milli
        gpu_left = state.idle_milli[nodes] - request_gpu_milli(req)
        tot_gpu = np.maximum(state.dev_total[nodes], 1)
        cpu_frac = cpu_left / state.cpu_total_milli[nodes]
        if req.num_devices == 0 and not req.whole_node and self.cpu_only_fit == "surplus" and self.cpu_per_gpu_milli > 0:
            # CPU-only: best fit on the CPU the node's idle GPUs do not need (surplus), so that
            # large surplus blocks stay whole for large CPU-only pods; then least short of it
            surplus = cpu_left - self.cpu_per_gpu_milli * gpu_left
            left = np.where(surplus >= 0, surplus, 1e12 - surplus)
        elif req.num_devices == 0 and not req.whole_node:
            # CPU-only: where GPUs are already taken and CPU is left over
            left = gpu_left / tot_gpu - cpu_frac
        else:
            left = np.abs(cpu_frac - gpu_left / tot_gpu) + 0.5 * (cpu_left / cpu_max + gpu_left / gpu_max)
        if state.dev_cost is not None and (req.num_devices or req.whole_node):
            order = np.lexsort((ties, left, node_unit_cost(state, req, nodes)))
        else:
            order = np.lexsort((ties, left))
        return int(ties[order[0]]), f", best fit of {ties.size} within {self.tolerance:g}"

"""FGD+ — our policy: FGD's fragmentation gradient, measured exactly, with a CPU-stranding term,
a fill lookahead for shares of a device, and packing tie-breaks.

Formulation (extends Weng et al., USENIX ATC '23):

* Score ``−ΔF_n`` where ``ΔF_n = F_n' − F_n`` is the exact change of the node's fragmentation
  against the typical-pod set (FGD truncates ``100·sigmoid(−ΔF/1000)`` to an integer, which
  makes changes below ~40 milli indistinguishable; ``exact=False`` restores that).
* Typical pods weighted by GPU demand as well as by count (``gpu_weight``): a pod asking for
  8 GPUs is rare by count but holds a large share of the GPUs.
* CPU stranding (``cpu_weight``): GPU milli a node can no longer use because its free CPU is
  short at the workload's CPU-per-GPU ratio, ``max(0, idle − cpu_free / r)``, is added to F.
* Fill lookahead for a share of a device (``fill_weight``): a device with ``f`` free milli is
  worth ``V(f)``, the milli it is expected to leave unused once later typical pods have filled
  it: ``V(f) = (1 − q)·f + q·E[V(f − s)]`` with ``q`` the (``fill_alpha``-scaled) probability
  that the next typical device request fits in ``f`` and ``s`` its size (whole devices count
  as size 1000). FGD's own per-device fragment is the one-step ``(1 − q)·f``; the recursion
  looks further, e.g. it keeps a 470-milli gap (two 230s fit) over a 420-milli one.
  ``ΔV = V(f − s) − V(f)`` of the chosen device is added to ``ΔF``.
* Ties: CPU-only pods go where GPUs are taken and CPU is left over; GPU pods to the node that
  stays balanced between CPU and GPU and leaves the least (best fit); then the cheapest device
  when the fleet has costs; then the lowest index. A share goes to the device with the lowest
  combined increase, then the lowest index.

It looks only at the current fleet and the workload's typical shapes (the typical-pod set of
the original pod list, as FGD), never at later requests; every request that fits is placed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.scheduler.base import node_unit_cost
from suanli.scheduler.frag import TypicalPod, TypicalPods
from suanli.scheduler.policies.fgd import FGDPolicy
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


class FGDPlusPolicy(FGDPolicy):
    name: str = "fgd+"

    def __init__(
        self,
        typical: TypicalPods | None = None,
        *,
        tolerance: float = 0.0,
        gpu_weight: float = 0.5,
        cpu_weight: float = 0.5,
        fill_weight: float = 4.0,
        fill_alpha: float = 4.0,
        exact: bool = True,
        **_: Any,
    ) -> None:
        super().__init__(demand_weighted(typical, gpu_weight) if typical is not None else None)
        self.tolerance = tolerance
        self.exact = exact
        self.cpu_weight = cpu_weight
        self.fill_weight = fill_weight
        self.fill = fill_value(self.typical, fill_alpha)
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
            delta = delta + self.fill_weight * cov * (self.fill[f2] - self.fill[np.clip(f, 0, MILLI)])
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
        if req.num_devices == 0 and not req.whole_node:
            # CPU-only: where GPUs are already taken and CPU is left over
            left = gpu_left / tot_gpu - cpu_frac
        else:
            left = np.abs(cpu_frac - gpu_left / tot_gpu) + 0.5 * (cpu_left / cpu_max + gpu_left / gpu_max)
        if state.dev_cost is not None and (req.num_devices or req.whole_node):
            order = np.lexsort((ties, left, node_unit_cost(state, req, nodes)))
        else:
            order = np.lexsort((ties, left))
        return int(ties[order[0]]), f", best fit of {ties.size} within {self.tolerance:g}"

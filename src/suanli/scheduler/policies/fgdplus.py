"""FGD+ — our policy: FGD's fragmentation gradient, measured exactly, with packing tie-breaks.

Formulation (extends Weng et al., USENIX ATC '23):

* Score ``−ΔF_n`` where ``ΔF_n = F_n' − F_n`` is the exact change of the node's fragmentation
  against the typical-pod set (FGD truncates ``100·sigmoid(−ΔF/1000)`` to an integer, which
  makes changes below ~40 milli indistinguishable). Changes within ``tolerance`` milli tie.
* Typical pods weighted by GPU demand as well as by count (``gpu_weight``): a pod asking for
  8 GPUs is rare by count but holds a large share of the GPUs; counting it makes whole idle
  nodes valuable, so they are kept for the large pods instead of being nibbled away.
* Ties: the node that leaves the least CPU and GPU (BestFit's normalised leftover), then the
  lowest index. A share of a device goes to the device that increases F least, then the fullest.

It looks only at the current fleet and the workload's typical shapes, never at later requests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.scheduler.frag import TypicalPod, TypicalPods
from suanli.scheduler.policies.fgd import FGDPolicy
from suanli.scheduler.policies.simple import max_specs, request_gpu_milli
from suanli.scheduler.types import FleetState, PlacementRequest


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


class FGDPlusPolicy(FGDPolicy):
    name: str = "fgd+"

    def __init__(
        self,
        typical: TypicalPods | None = None,
        *,
        tolerance: float = 0.0,
        gpu_weight: float = 0.5,
        coverage: float | None = None,
        all_specs: TypicalPods | None = None,
        exact: bool = False,
        secondary: str = "cpu",
        cpu_weight: float = 0.5,
        **_: Any,
    ) -> None:
        base = typical
        if all_specs is not None and coverage is not None:
            base = TypicalPods.from_specs(all_specs.pods, coverage)
        super().__init__(demand_weighted(base, gpu_weight) if base is not None else None)
        self.tolerance = tolerance
        self.exact = exact
        self.secondary = secondary
        self.cpu_weight = cpu_weight
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
        if self.cpu_weight <= 0 or self._model is None:
            return delta, valid
        idle = state.idle_milli[rows].astype(np.float64)
        cpu = state.cpu_free_milli[rows].astype(np.float64)
        if req.whole_node:
            after = np.zeros(rows.size)
        else:
            after = self._stranded(idle - request_gpu_milli(req), cpu - req.cpu_milli)
        pen = self.cpu_weight * self._model.covered * (after - self._stranded(idle, cpu))
        if delta.ndim == 2:
            pen = pen[:, None]
        return delta + pen, valid
        self.tie_break = "first"

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
        if ties.size > 1:
            cpu_max, gpu_max = max_specs(state)
            nodes = cand[ties]
            cpu_left = (state.cpu_free_milli[nodes] - req.cpu_milli)
            gpu_left = (state.idle_milli[nodes] - request_gpu_milli(req))
            tot_gpu = np.maximum(state.dev_total[nodes], 1)
            if self.secondary.startswith("cpu") and req.num_devices == 0 and not req.whole_node:
                # CPU-only: where GPUs are already taken and CPU is left over
                left = gpu_left / tot_gpu - cpu_left / state.cpu_total_milli[nodes]
            elif self.secondary in ("balance+fit", "cpu"):
                left = np.abs(cpu_left / state.cpu_total_milli[nodes] - gpu_left / tot_gpu) + 0.5 * (cpu_left / cpu_max + gpu_left / gpu_max)
            elif self.secondary == "cpufit":
                left = cpu_left / cpu_max + gpu_left / gpu_max
            elif self.secondary == "balance":
                tot_gpu = np.maximum(state.dev_total[nodes], 1)
                left = np.abs(cpu_left / state.cpu_total_milli[nodes] - gpu_left / tot_gpu)
            elif self.secondary == "balance+fit":
                tot_gpu = np.maximum(state.dev_total[nodes], 1)
                left = np.abs(cpu_left / state.cpu_total_milli[nodes] - gpu_left / tot_gpu) + 0.5 * (cpu_left / cpu_max + gpu_left / gpu_max)
            else:
                left = cpu_left / cpu_max + gpu_left / gpu_max
            if state.dev_cost is not None and (req.num_devices or req.whole_node):
                from suanli.scheduler.base import node_unit_cost

                cost = node_unit_cost(state, req, nodes)
                order = np.lexsort((ties, left, cost))
            else:
                order = np.lexsort((ties, left))
            return int(ties[order[0]]), f", best fit of {ties.size} within {self.tolerance:g} milli"
        return int(ties[0]), ""
